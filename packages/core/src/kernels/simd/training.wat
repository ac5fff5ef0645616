;; SIMD training kernels for tfjs-backend-wasm 4.22, run in place on the backend's heap.
;;
;; The module imports the backend's own WebAssembly.Memory, so a tensor is addressed by the byte offset
;; tfjs keeps for it: nothing is copied. Pointers and strides are bytes; loads and stores are unaligned
;; f32x4 (tfjs mallocs tensors 8-byte aligned).
;;
;; Filter gradients (conv and depthwise) are tile kernels: the caller (simd.ts) walks the filter taps
;; and channel blocks and hands each tile the first input/dy positions that tap meets and three levels of
;; strides (batch, output row, output column), so padding is handled by the bounds it computes, not by
;; branches in the inner loop, and no im2col buffer is built. Each tile keeps its sums in registers over
;; the output positions it is given and adds them to dW once at the end (dW starts zeroed; the caller
;; hands positions over a few images at a time, so x and dy stay in cache across the tiles):
;;   t4x8 / t4x4:   4 input channels × 8 / 4 output channels (x loaded as f32x4, lanes broadcast);
;;   t1x16 / t1x4:  1 input channel × 16 / 4 output channels (inputs whose channels are not a multiple of 4);
;;   dw16 / dw4:    depthwise (multiplier 1), 16 / 4 channels, elementwise.
;; 4×8 is the largest tile whose 8 accumulators, 2 dy vectors, x and a broadcast fit V8's 16 xmm registers.
;; Sums are float32 like XNNPACK's and tfjs-cpu's.
;;
;; Build: node scripts/build-wasm.mjs (writes training.generated.ts; CI checks it with --check).
(module
  (import "env" "memory" (memory 0))

  (func (export "t4x8")
    (param $xp i32) (param $dp i32) (param $wp i32) (param $nb i32) (param $nr i32) (param $nc i32)
    (param $xsB i32) (param $xsR i32) (param $xsC i32) (param $dsB i32) (param $dsR i32) (param $dsC i32) (param $ws i32)
    (local $r i32) (local $c i32) (local $xq i32) (local $dq i32) (local $xr i32) (local $dr i32)
    (local $xv v128) (local $s v128) (local $d0 v128) (local $d1 v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (if (i32.and (i32.gt_s (local.get $nb) (i32.const 0))
          (i32.and (i32.gt_s (local.get $nr) (i32.const 0)) (i32.gt_s (local.get $nc) (i32.const 0))))
      (then
        (loop $batch
          (local.set $xr (local.get $xp))
          (local.set $dr (local.get $dp))
          (local.set $r (local.get $nr))
          (loop $row
            (local.set $xq (local.get $xr))
            (local.set $dq (local.get $dr))
            (local.set $c (local.get $nc))
            (loop $col
              (local.set $xv (v128.load (local.get $xq)))
              (local.set $d0 (v128.load offset=0 (local.get $dq)))
              (local.set $d1 (v128.load offset=16 (local.get $dq)))
              (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)))
              (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)))
              (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)))
              (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)))
              (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $xq (i32.add (local.get $xq) (local.get $xsC)))
              (local.set $dq (i32.add (local.get $dq) (local.get $dsC)))
              (br_if $col (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $xr (i32.add (local.get $xr) (local.get $xsR)))
            (local.set $dr (i32.add (local.get $dr) (local.get $dsR)))
            (br_if $row (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xsB)))
          (local.set $dp (i32.add (local.get $dp) (local.get $dsB)))
          (br_if $batch (local.tee $nb (i32.sub (local.get $nb) (i32.const 1)))))))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a00)))
    (v128.store offset=16 (local.get $wp) (f32x4.add (v128.load offset=16 (local.get $wp)) (local.get $a01)))
    (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a10)))
    (v128.store offset=16 (local.get $wp) (f32x4.add (v128.load offset=16 (local.get $wp)) (local.get $a11)))
    (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a20)))
    (v128.store offset=16 (local.get $wp) (f32x4.add (v128.load offset=16 (local.get $wp)) (local.get $a21)))
    (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a30)))
    (v128.store offset=16 (local.get $wp) (f32x4.add (v128.load offset=16 (local.get $wp)) (local.get $a31)))
  )

  (func (export "t4x4")
    (param $xp i32) (param $dp i32) (param $wp i32) (param $nb i32) (param $nr i32) (param $nc i32)
    (param $xsB i32) (param $xsR i32) (param $xsC i32) (param $dsB i32) (param $dsR i32) (param $dsC i32) (param $ws i32)
    (local $r i32) (local $c i32) (local $xq i32) (local $dq i32) (local $xr i32) (local $dr i32)
    (local $xv v128) (local $s v128) (local $d0 v128)
    (local $a00 v128) (local $a10 v128) (local $a20 v128) (local $a30 v128)
    (if (i32.and (i32.gt_s (local.get $nb) (i32.const 0))
          (i32.and (i32.gt_s (local.get $nr) (i32.const 0)) (i32.gt_s (local.get $nc) (i32.const 0))))
      (then
        (loop $batch
          (local.set $xr (local.get $xp))
          (local.set $dr (local.get $dp))
          (local.set $r (local.get $nr))
          (loop $row
            (local.set $xq (local.get $xr))
            (local.set $dq (local.get $dr))
            (local.set $c (local.get $nc))
            (loop $col
              (local.set $xv (v128.load (local.get $xq)))
              (local.set $d0 (v128.load offset=0 (local.get $dq)))
              (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)))
              (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)))
              (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)))
              (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)))
              (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $xq (i32.add (local.get $xq) (local.get $xsC)))
              (local.set $dq (i32.add (local.get $dq) (local.get $dsC)))
              (br_if $col (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $xr (i32.add (local.get $xr) (local.get $xsR)))
            (local.set $dr (i32.add (local.get $dr) (local.get $dsR)))
            (br_if $row (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xsB)))
          (local.set $dp (i32.add (local.get $dp) (local.get $dsB)))
          (br_if $batch (local.tee $nb (i32.sub (local.get $nb) (i32.const 1)))))))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a00)))
    (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a10)))
    (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a20)))
    (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a30)))
  )

  (func (export "t1x16")
    (param $xp i32) (param $dp i32) (param $wp i32) (param $nb i32) (param $nr i32) (param $nc i32)
    (param $xsB i32) (param $xsR i32) (param $xsC i32) (param $dsB i32) (param $dsR i32) (param $dsC i32) (param $ws i32)
    (local $r i32) (local $c i32) (local $xq i32) (local $dq i32) (local $xr i32) (local $dr i32)
    (local $xv v128) (local $s v128) (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local $a00 v128) (local $a01 v128) (local $a02 v128) (local $a03 v128)
    (if (i32.and (i32.gt_s (local.get $nb) (i32.const 0))
          (i32.and (i32.gt_s (local.get $nr) (i32.const 0)) (i32.gt_s (local.get $nc) (i32.const 0))))
      (then
        (loop $batch
          (local.set $xr (local.get $xp))
          (local.set $dr (local.get $dp))
          (local.set $r (local.get $nr))
          (loop $row
            (local.set $xq (local.get $xr))
            (local.set $dq (local.get $dr))
            (local.set $c (local.get $nc))
            (loop $col
              (local.set $s (f32x4.splat (f32.load (local.get $xq))))
              (local.set $d0 (v128.load offset=0 (local.get $dq)))
              (local.set $d1 (v128.load offset=16 (local.get $dq)))
              (local.set $d2 (v128.load offset=32 (local.get $dq)))
              (local.set $d3 (v128.load offset=48 (local.get $dq)))
              (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $a02 (f32x4.add (local.get $a02) (f32x4.mul (local.get $s) (local.get $d2))))
              (local.set $a03 (f32x4.add (local.get $a03) (f32x4.mul (local.get $s) (local.get $d3))))
              (local.set $xq (i32.add (local.get $xq) (local.get $xsC)))
              (local.set $dq (i32.add (local.get $dq) (local.get $dsC)))
              (br_if $col (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $xr (i32.add (local.get $xr) (local.get $xsR)))
            (local.set $dr (i32.add (local.get $dr) (local.get $dsR)))
            (br_if $row (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xsB)))
          (local.set $dp (i32.add (local.get $dp) (local.get $dsB)))
          (br_if $batch (local.tee $nb (i32.sub (local.get $nb) (i32.const 1)))))))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a00)))
    (v128.store offset=16 (local.get $wp) (f32x4.add (v128.load offset=16 (local.get $wp)) (local.get $a01)))
    (v128.store offset=32 (local.get $wp) (f32x4.add (v128.load offset=32 (local.get $wp)) (local.get $a02)))
    (v128.store offset=48 (local.get $wp) (f32x4.add (v128.load offset=48 (local.get $wp)) (local.get $a03)))
  )

  (func (export "t1x4")
    (param $xp i32) (param $dp i32) (param $wp i32) (param $nb i32) (param $nr i32) (param $nc i32)
    (param $xsB i32) (param $xsR i32) (param $xsC i32) (param $dsB i32) (param $dsR i32) (param $dsC i32) (param $ws i32)
    (local $r i32) (local $c i32) (local $xq i32) (local $dq i32) (local $xr i32) (local $dr i32)
    (local $xv v128) (local $s v128) (local $d0 v128)
    (local $a00 v128)
    (if (i32.and (i32.gt_s (local.get $nb) (i32.const 0))
          (i32.and (i32.gt_s (local.get $nr) (i32.const 0)) (i32.gt_s (local.get $nc) (i32.const 0))))
      (then
        (loop $batch
          (local.set $xr (local.get $xp))
          (local.set $dr (local.get $dp))
          (local.set $r (local.get $nr))
          (loop $row
            (local.set $xq (local.get $xr))
            (local.set $dq (local.get $dr))
            (local.set $c (local.get $nc))
            (loop $col
              (local.set $s (f32x4.splat (f32.load (local.get $xq))))
              (local.set $d0 (v128.load offset=0 (local.get $dq)))
              (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $xq (i32.add (local.get $xq) (local.get $xsC)))
              (local.set $dq (i32.add (local.get $dq) (local.get $dsC)))
              (br_if $col (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $xr (i32.add (local.get $xr) (local.get $xsR)))
            (local.set $dr (i32.add (local.get $dr) (local.get $dsR)))
            (br_if $row (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xsB)))
          (local.set $dp (i32.add (local.get $dp) (local.get $dsB)))
          (br_if $batch (local.tee $nb (i32.sub (local.get $nb) (i32.const 1)))))))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a00)))
  )

  (func (export "dw16")
    (param $xp i32) (param $dp i32) (param $wp i32) (param $nb i32) (param $nr i32) (param $nc i32)
    (param $xsB i32) (param $xsR i32) (param $xsC i32) (param $dsB i32) (param $dsR i32) (param $dsC i32)
    (local $r i32) (local $c i32) (local $xq i32) (local $dq i32) (local $xr i32) (local $dr i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (if (i32.and (i32.gt_s (local.get $nb) (i32.const 0))
          (i32.and (i32.gt_s (local.get $nr) (i32.const 0)) (i32.gt_s (local.get $nc) (i32.const 0))))
      (then
        (loop $batch
          (local.set $xr (local.get $xp))
          (local.set $dr (local.get $dp))
          (local.set $r (local.get $nr))
          (loop $row
            (local.set $xq (local.get $xr))
            (local.set $dq (local.get $dr))
            (local.set $c (local.get $nc))
            (loop $col
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $xq)) (v128.load offset=0 (local.get $dq)))))
              (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $xq)) (v128.load offset=16 (local.get $dq)))))
              (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $xq)) (v128.load offset=32 (local.get $dq)))))
              (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $xq)) (v128.load offset=48 (local.get $dq)))))
              (local.set $xq (i32.add (local.get $xq) (local.get $xsC)))
              (local.set $dq (i32.add (local.get $dq) (local.get $dsC)))
              (br_if $col (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $xr (i32.add (local.get $xr) (local.get $xsR)))
            (local.set $dr (i32.add (local.get $dr) (local.get $dsR)))
            (br_if $row (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xsB)))
          (local.set $dp (i32.add (local.get $dp) (local.get $dsB)))
          (br_if $batch (local.tee $nb (i32.sub (local.get $nb) (i32.const 1)))))))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a0)))
    (v128.store offset=16 (local.get $wp) (f32x4.add (v128.load offset=16 (local.get $wp)) (local.get $a1)))
    (v128.store offset=32 (local.get $wp) (f32x4.add (v128.load offset=32 (local.get $wp)) (local.get $a2)))
    (v128.store offset=48 (local.get $wp) (f32x4.add (v128.load offset=48 (local.get $wp)) (local.get $a3)))
  )

  (func (export "dw4")
    (param $xp i32) (param $dp i32) (param $wp i32) (param $nb i32) (param $nr i32) (param $nc i32)
    (param $xsB i32) (param $xsR i32) (param $xsC i32) (param $dsB i32) (param $dsR i32) (param $dsC i32)
    (local $r i32) (local $c i32) (local $xq i32) (local $dq i32) (local $xr i32) (local $dr i32)
    (local $a0 v128)
    (if (i32.and (i32.gt_s (local.get $nb) (i32.const 0))
          (i32.and (i32.gt_s (local.get $nr) (i32.const 0)) (i32.gt_s (local.get $nc) (i32.const 0))))
      (then
        (loop $batch
          (local.set $xr (local.get $xp))
          (local.set $dr (local.get $dp))
          (local.set $r (local.get $nr))
          (loop $row
            (local.set $xq (local.get $xr))
            (local.set $dq (local.get $dr))
            (local.set $c (local.get $nc))
            (loop $col
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $xq)) (v128.load offset=0 (local.get $dq)))))
              (local.set $xq (i32.add (local.get $xq) (local.get $xsC)))
              (local.set $dq (i32.add (local.get $dq) (local.get $dsC)))
              (br_if $col (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
            (local.set $xr (i32.add (local.get $xr) (local.get $xsR)))
            (local.set $dr (i32.add (local.get $dr) (local.get $dsR)))
            (br_if $row (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
          (local.set $xp (i32.add (local.get $xp) (local.get $xsB)))
          (local.set $dp (i32.add (local.get $dp) (local.get $dsB)))
          (br_if $batch (local.tee $nb (i32.sub (local.get $nb) (i32.const 1)))))))
    (v128.store offset=0 (local.get $wp) (f32x4.add (v128.load offset=0 (local.get $wp)) (local.get $a0)))
  )

  ;; Max-pool gradient, channels in f32x4 groups (C % 4 = 0): each window's gradient goes to its
  ;; first maximum among the in-bounds taps (a later tap wins only when strictly greater, so NaN and
  ;; all-negative windows route like the JS loop). Pass 1 keeps the best value and its tap index per
  ;; channel in `scratch` (2·C words the caller allocates); pass 2 adds dy into dx where a channel's
  ;; index matches the tap, so overlapping windows accumulate. Taps are the outer loop, so a tap's
  ;; bounds and address are worked out once for all channels. dx must be zeroed. NHWC; sizes are
  ;; elements, pointers bytes.
  (func (export "maxpoolgrad")
    (param $dy i32) (param $x i32) (param $dx i32) (param $B i32) (param $H i32) (param $W i32)
    (param $C i32) (param $HO i32) (param $WO i32) (param $KH i32) (param $KW i32) (param $sh i32)
    (param $sw i32) (param $dh i32) (param $dw i32) (param $pt i32) (param $pl i32) (param $scratch i32)
    (local $b i32) (local $yr i32) (local $yc i32) (local $cc i32) (local $cb i32) (local $img i32)
    (local $kh i32) (local $kw i32) (local $xr i32) (local $xc i32) (local $t i32) (local $first i32)
    (local $p i32) (local $q i32) (local $pass i32) (local $sb i32) (local $si i32)
    (local $v v128) (local $bv v128) (local $m v128) (local $T v128)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $si (i32.add (local.get $scratch) (local.get $cb)))
    (loop $batch
      (local.set $img (i32.mul (local.get $b) (i32.mul (i32.mul (local.get $H) (local.get $W)) (local.get $cb))))
      (local.set $yr (i32.const 0))
      (loop $orow
        (local.set $yc (i32.const 0))
        (loop $ocol
          (local.set $first (i32.const 1))
          (local.set $pass (i32.const 0))
          (loop $passes
            (local.set $t (i32.const 0))
            (local.set $kh (i32.const 0))
            (loop $taprow
              (local.set $xr (i32.add (i32.sub (i32.mul (local.get $yr) (local.get $sh)) (local.get $pt))
                                      (i32.mul (local.get $kh) (local.get $dh))))
              (local.set $kw (i32.const 0))
              (loop $tapcol
                (local.set $xc (i32.add (i32.sub (i32.mul (local.get $yc) (local.get $sw)) (local.get $pl))
                                        (i32.mul (local.get $kw) (local.get $dw))))
                ;; Unsigned compares reject negative rows/columns too.
                (if (i32.and (i32.lt_u (local.get $xr) (local.get $H)) (i32.lt_u (local.get $xc) (local.get $W)))
                  (then
                    (local.set $p (i32.add (local.get $img)
                      (i32.mul (i32.add (i32.mul (local.get $xr) (local.get $W)) (local.get $xc)) (local.get $cb))))
                    (local.set $T (i32x4.splat (local.get $t)))
                    (local.set $cc (i32.const 0))
                    (if (local.get $pass)
                      (then
                        (local.set $p (i32.add (local.get $dx) (local.get $p)))
                        (loop $route
                          (local.set $m (i32x4.eq (v128.load (i32.add (local.get $si) (local.get $cc))) (local.get $T)))
                          (local.set $q (i32.add (local.get $p) (local.get $cc)))
                          (v128.store (local.get $q) (f32x4.add (v128.load (local.get $q))
                            (v128.and (v128.load (i32.add (local.get $dy) (local.get $cc))) (local.get $m))))
                          (br_if $route (i32.lt_s (local.tee $cc (i32.add (local.get $cc) (i32.const 16))) (local.get $cb)))))
                      (else
                        (local.set $p (i32.add (local.get $x) (local.get $p)))
                        (if (local.get $first)
                          (then
                            (local.set $first (i32.const 0))
                            (loop $init
                              (v128.store (i32.add (local.get $scratch) (local.get $cc))
                                (v128.load (i32.add (local.get $p) (local.get $cc))))
                              (v128.store (i32.add (local.get $si) (local.get $cc)) (local.get $T))
                              (br_if $init (i32.lt_s (local.tee $cc (i32.add (local.get $cc) (i32.const 16))) (local.get $cb)))))
                          (else
                            (loop $update
                              (local.set $v (v128.load (i32.add (local.get $p) (local.get $cc))))
                              (local.set $sb (i32.add (local.get $scratch) (local.get $cc)))
                              (local.set $bv (v128.load (local.get $sb)))
                              (local.set $m (f32x4.gt (local.get $v) (local.get $bv)))
                              (v128.store (local.get $sb) (v128.bitselect (local.get $v) (local.get $bv) (local.get $m)))
                              (local.set $q (i32.add (local.get $si) (local.get $cc)))
                              (v128.store (local.get $q) (v128.bitselect (local.get $T) (v128.load (local.get $q)) (local.get $m)))
                              (br_if $update (i32.lt_s (local.tee $cc (i32.add (local.get $cc) (i32.const 16))) (local.get $cb))))))))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br_if $tapcol (i32.lt_s (local.tee $kw (i32.add (local.get $kw) (i32.const 1))) (local.get $KW))))
              (br_if $taprow (i32.lt_s (local.tee $kh (i32.add (local.get $kh) (i32.const 1))) (local.get $KH))))
            ;; A window entirely in the padding has nothing to route to: no second pass.
            (if (i32.and (i32.eqz (local.get $pass)) (i32.eqz (local.get $first)))
              (then
                (local.set $pass (i32.const 1))
                (br $passes))))
          (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
          (br_if $ocol (i32.lt_s (local.tee $yc (i32.add (local.get $yc) (i32.const 1))) (local.get $WO))))
        (br_if $orow (i32.lt_s (local.tee $yr (i32.add (local.get $yr) (i32.const 1))) (local.get $HO))))
      (br_if $batch (i32.lt_s (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $B))))
  )

  ;; Max-pool gradient for 2×2 windows with stride 2, no padding and no dilation (every pooling layer
  ;; of the CNNs we train), channels in f32x4 groups (C % 4 = 0). The windows do not overlap, so each
  ;; window is read once and its four dx cells written once, in registers: the first maximum (a later tap
  ;; wins only when strictly greater, as in `maxpoolgrad`) gets dy, the other three 0. dx rows/columns no
  ;; window reads (odd sizes) are not written: the caller zeroes dx then. NHWC; pointers bytes.
  (func (export "maxpool2x2")
    (param $dy i32) (param $x i32) (param $dx i32) (param $B i32) (param $H i32) (param $W i32)
    (param $C i32) (param $HO i32) (param $WO i32)
    (local $cb i32) (local $rs i32) (local $img i32) (local $r i32) (local $yc i32) (local $cc i32)
    (local $row i32) (local $p i32) (local $q i32)
    (local $a v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $best v128)
    (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $g v128)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $rs (i32.mul (local.get $W) (local.get $cb)))
    (local.set $img (i32.mul (local.get $H) (local.get $rs)))
    (block $done
      (br_if $done (i32.or (i32.or (i32.le_s (local.get $B) (i32.const 0)) (i32.le_s (local.get $C) (i32.const 0)))
                           (i32.or (i32.le_s (local.get $HO) (i32.const 0)) (i32.le_s (local.get $WO) (i32.const 0)))))
      (loop $batch
        (local.set $row (i32.const 0))
        (local.set $r (local.get $HO))
        (loop $orow
          (local.set $p (local.get $row))
          (local.set $yc (local.get $WO))
          (loop $ocol
            (local.set $cc (i32.const 0))
            (loop $chan
              (local.set $q (i32.add (local.get $p) (local.get $cc)))
              (local.set $a (v128.load (i32.add (local.get $x) (local.get $q))))
              (local.set $v1 (v128.load (i32.add (i32.add (local.get $x) (local.get $q)) (local.get $cb))))
              (local.set $v2 (v128.load (i32.add (i32.add (local.get $x) (local.get $q)) (local.get $rs))))
              (local.set $v3 (v128.load (i32.add (i32.add (i32.add (local.get $x) (local.get $q)) (local.get $rs)) (local.get $cb))))
              (local.set $m1 (f32x4.gt (local.get $v1) (local.get $a)))
              (local.set $best (v128.bitselect (local.get $v1) (local.get $a) (local.get $m1)))
              (local.set $m2 (f32x4.gt (local.get $v2) (local.get $best)))
              (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $m2)))
              (local.set $m3 (f32x4.gt (local.get $v3) (local.get $best)))
              (local.set $g (v128.load (local.get $dy)))
              (local.set $q (i32.add (local.get $dx) (local.get $q)))
              (v128.store (local.get $q)
                (v128.andnot (local.get $g) (v128.or (v128.or (local.get $m1) (local.get $m2)) (local.get $m3))))
              (v128.store (i32.add (local.get $q) (local.get $cb))
                (v128.andnot (v128.and (local.get $g) (local.get $m1)) (v128.or (local.get $m2) (local.get $m3))))
              (v128.store (i32.add (local.get $q) (local.get $rs))
                (v128.andnot (v128.and (local.get $g) (local.get $m2)) (local.get $m3)))
              (v128.store (i32.add (i32.add (local.get $q) (local.get $rs)) (local.get $cb))
                (v128.and (local.get $g) (local.get $m3)))
              (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
              (br_if $chan (i32.lt_s (local.tee $cc (i32.add (local.get $cc) (i32.const 16))) (local.get $cb))))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $cb) (i32.const 1))))
            (br_if $ocol (local.tee $yc (i32.sub (local.get $yc) (i32.const 1)))))
          (local.set $row (i32.add (local.get $row) (i32.shl (local.get $rs) (i32.const 1))))
          (br_if $orow (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
        (local.set $x (i32.add (local.get $x) (local.get $img)))
        (local.set $dx (i32.add (local.get $dx) (local.get $img)))
        (br_if $batch (local.tee $B (i32.sub (local.get $B) (i32.const 1)))))))

  ;; Average-pool gradient, channels in f32x4 groups (C % 4 = 0), computed per dx cell (a gather, so
  ;; every dx element is written once and dx needs no zeroing): the sum of dy over the windows that
  ;; contain the cell, rows then columns ascending, times `mul`, which is 1 / (KH·KW) as in tfjs-cpu's
  ;; and tfjs-wasm's AvgPoolGrad (padding counts in the divisor). A window yr covers input rows
  ;; [yr·sh − pt, yr·sh − pt + KH), so cell xr lies in the windows from ceil((xr + pt − KH + 1) / sh) to
  ;; floor((xr + pt) / sh).
  (func (export "avgpoolgrad")
    (param $dy i32) (param $dx i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $HO i32) (param $WO i32) (param $KH i32) (param $KW i32) (param $sh i32) (param $sw i32)
    (param $pt i32) (param $pl i32) (param $mul f32)
    (local $cb i32) (local $b i32) (local $xr i32) (local $xc i32) (local $cc i32) (local $t i32)
    (local $r0 i32) (local $r1 i32) (local $c0 i32) (local $c1 i32) (local $yr i32) (local $yc i32)
    (local $img i32) (local $p i32) (local $acc v128) (local $m v128)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $m (f32x4.splat (local.get $mul)))
    (block $done
      (br_if $done (i32.or (i32.or (i32.le_s (local.get $B) (i32.const 0)) (i32.le_s (local.get $C) (i32.const 0)))
                           (i32.or (i32.le_s (local.get $H) (i32.const 0)) (i32.le_s (local.get $W) (i32.const 0)))))
      (loop $batch
        (local.set $img (i32.add (local.get $dy) (i32.mul (local.get $b)
          (i32.mul (i32.mul (local.get $HO) (local.get $WO)) (local.get $cb)))))
        (local.set $xr (i32.const 0))
        (loop $irow
          (local.set $t (i32.sub (i32.add (local.get $xr) (local.get $pt)) (i32.sub (local.get $KH) (i32.const 1))))
          (local.set $r0 (select (i32.const 0)
            (i32.div_u (i32.add (local.get $t) (i32.sub (local.get $sh) (i32.const 1))) (local.get $sh))
            (i32.le_s (local.get $t) (i32.const 0))))
          (local.set $r1 (i32.add (i32.div_u (i32.add (local.get $xr) (local.get $pt)) (local.get $sh)) (i32.const 1)))
          (if (i32.gt_s (local.get $r1) (local.get $HO)) (then (local.set $r1 (local.get $HO))))
          (local.set $xc (i32.const 0))
          (loop $icol
            (local.set $t (i32.sub (i32.add (local.get $xc) (local.get $pl)) (i32.sub (local.get $KW) (i32.const 1))))
            (local.set $c0 (select (i32.const 0)
              (i32.div_u (i32.add (local.get $t) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
              (i32.le_s (local.get $t) (i32.const 0))))
            (local.set $c1 (i32.add (i32.div_u (i32.add (local.get $xc) (local.get $pl)) (local.get $sw)) (i32.const 1)))
            (if (i32.gt_s (local.get $c1) (local.get $WO)) (then (local.set $c1 (local.get $WO))))
            (local.set $cc (i32.const 0))
            (loop $chan
              (local.set $acc (v128.const i32x4 0 0 0 0))
              (local.set $yr (local.get $r0))
              (block $rows_done
                (loop $rows
                  (br_if $rows_done (i32.ge_s (local.get $yr) (local.get $r1)))
                  (local.set $yc (local.get $c0))
                  (block $cols_done
                    (loop $cols
                      (br_if $cols_done (i32.ge_s (local.get $yc) (local.get $c1)))
                      (local.set $p (i32.add (local.get $img) (i32.add (local.get $cc)
                        (i32.mul (i32.add (i32.mul (local.get $yr) (local.get $WO)) (local.get $yc)) (local.get $cb)))))
                      (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $p))))
                      (local.set $yc (i32.add (local.get $yc) (i32.const 1)))
                      (br $cols)))
                  (local.set $yr (i32.add (local.get $yr) (i32.const 1)))
                  (br $rows)))
              (v128.store (local.get $dx) (f32x4.mul (local.get $acc) (local.get $m)))
              (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
              (br_if $chan (i32.lt_s (local.tee $cc (i32.add (local.get $cc) (i32.const 16))) (local.get $cb))))
            (br_if $icol (i32.lt_s (local.tee $xc (i32.add (local.get $xc) (i32.const 1))) (local.get $W))))
          (br_if $irow (i32.lt_s (local.tee $xr (i32.add (local.get $xr) (i32.const 1))) (local.get $H))))
        (br_if $batch (i32.lt_s (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $B))))))

  ;; ReLU / ReLU6 gradient in one pass: out = dy · s with s = 1 where 0 < x ≤ hi, x itself (NaN) where
  ;; x is NaN, else 0 — exactly tfjs-core's `dy · step(x)` (Relu, hi = +∞) and `dy · (x ≤ 6)·step(x)`
  ;; (Relu6, hi = 6), product for product, without the mask tensor and the second pass. n elements, a
  ;; multiple of 4: the caller finishes the 0–3 left with its typed-array loop (the module has to stay
  ;; within the 4 KiB Chromium compiles synchronously).
  (func (export "relugrad") (param $dy i32) (param $x i32) (param $out i32) (param $n i32) (param $hi f32)
    (local $i i32) (local $end i32) (local $v v128) (local $h v128) (local $s v128)
    (local.set $h (f32x4.splat (local.get $hi)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
        (local.set $s (v128.and (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0))
                                          (f32x4.le (local.get $v) (local.get $h)))
                                (v128.const f32x4 1 1 1 1)))
        (local.set $s (v128.bitselect (local.get $v) (local.get $s) (f32x4.ne (local.get $v) (local.get $v))))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i))) (local.get $s)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec))))

  ;; ClipByValue gradient in one pass: out = dy where lo ≤ x ≤ hi, else +0 (NaN x: 0) — tfjs-core's
  ;; `where(logicalAnd(x ≥ lo, x ≤ hi), dy, zerosLike(dy))` without its three mask tensors. n elements, a
  ;; multiple of 4 (as relugrad).
  (func (export "clipgrad") (param $dy i32) (param $x i32) (param $out i32) (param $n i32) (param $lo f32) (param $hi f32)
    (local $i i32) (local $end i32) (local $v v128) (local $l v128) (local $h v128)
    (local.set $l (f32x4.splat (local.get $lo)))
    (local.set $h (f32x4.splat (local.get $hi)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (v128.and (v128.load (i32.add (local.get $dy) (local.get $i)))
                    (v128.and (f32x4.ge (local.get $v) (local.get $l)) (f32x4.le (local.get $v) (local.get $h)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec))))

  ;; Column sums of a row-major [rows, C] matrix (C % 4 = 0), added to out[C]: tfjs's Sum over the
  ;; leading axes (a bias gradient), which tfjs-wasm runs as a transpose and a row reduction. Eight
  ;; columns at a time while they last, then four; the caller passes cache-sized blocks of rows.
  (func (export "colsum") (param $x i32) (param $out i32) (param $rows i32) (param $C i32)
    (local $c i32) (local $p i32) (local $r i32) (local $rs i32) (local $a0 v128) (local $a1 v128)
    (local.set $rs (i32.shl (local.get $C) (i32.const 2)))
    (block $done
      (loop $cols
        (br_if $done (i32.ge_s (local.get $c) (local.get $C)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $r (local.get $rows))
        (if (i32.le_s (i32.add (local.get $c) (i32.const 8)) (local.get $C))
          (then
            (if (i32.gt_s (local.get $r) (i32.const 0))
              (then
                (loop $rows8
                  (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $p))))
                  (local.set $a1 (f32x4.add (local.get $a1) (v128.load offset=16 (local.get $p))))
                  (local.set $p (i32.add (local.get $p) (local.get $rs)))
                  (br_if $rows8 (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))))
            (local.set $p (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
            (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $a1)))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $a0)))
            (local.set $c (i32.add (local.get $c) (i32.const 8))))
          (else
            (if (i32.gt_s (local.get $r) (i32.const 0))
              (then
                (loop $rows4
                  (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $p))))
                  (local.set $p (i32.add (local.get $p) (local.get $rs)))
                  (br_if $rows4 (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))))
            (local.set $p (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $a0)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))))
        (br $cols)))
  )

  ;; out[r, :] = x[r, :] + bias for a row-major [rows, C] matrix (C % 4 = 0): a bias add (x [B,H,W,C]
  ;; plus [C]), which tfjs-wasm runs through its generic broadcasting loop. out may be x.
  (func (export "addrow") (param $x i32) (param $bias i32) (param $out i32) (param $rows i32) (param $C i32)
    (local $c i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (block $done
      (br_if $done (i32.or (i32.le_s (local.get $rows) (i32.const 0)) (i32.le_s (local.get $C) (i32.const 0))))
      (loop $row
        (local.set $c (i32.const 0))
        (loop $col
          (v128.store (i32.add (local.get $out) (local.get $c))
            (f32x4.add (v128.load (i32.add (local.get $x) (local.get $c)))
                       (v128.load (i32.add (local.get $bias) (local.get $c)))))
          (br_if $col (i32.lt_s (local.tee $c (i32.add (local.get $c) (i32.const 16))) (local.get $cb))))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $out (i32.add (local.get $out) (local.get $cb)))
        (br_if $row (local.tee $rows (i32.sub (local.get $rows) (i32.const 1)))))))
)
