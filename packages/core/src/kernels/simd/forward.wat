;; SIMD forward kernels for tfjs-backend-wasm 4.22, run in place on the backend's heap (a second
;; module beside training.wat, which is at Chromium's 4 KiB synchronous-compile limit): the matrix
;; products of BatchMatMul, ReLU and 2×2 max pooling.
;;
;; Matrix products. tfjs-wasm runs BatchMatMul through an XNNPACK fully-connected operator whose packed
;; weights it caches by the id of `b`. In a training step every `b` is new (the weights were just
;; updated, the gradients are fresh), so every call packs its weights again (≈ 0.2 ms of a 0.34 ms dense
;; forward at B = 32), and transposed operands first go through an explicit Transpose. These loops read
;; the operands where they lie, with strides, and pack nothing.
;;   gemm:   C[M,N] = Σ_k A(m,k) · B[k,n], A(m,k) at ap + m·asM + k·asK (so A or Aᵀ, by strides), B row
;;           k at bp + k·bsK (contiguous in n); N % 4 = 0, K ≥ 1. 4×8 tiles (four broadcast A values
;;           times two B vectors into 8 accumulators), then 1×4 tiles for the rows and columns left.
;;   gemmnt: C[M,N] = Σ_k A[m,k] · B[n,k] (A·Bᵀ, both row-major with K contiguous); K % 4 = 0,
;;           N % 4 = 0. Per output row, four B rows at a time: 4 dot products in f32x4 partial sums,
;;           reduced across lanes into one vector of 4 outputs.
;; C is contiguous [M, N] (row stride 4·N bytes) and is written, not accumulated. Sums are float32, in
;; another order than XNNPACK's.
;;
;; ReLU and max pooling. tfjs-wasm runs them through XNNPACK operators, which its threaded build hands
;; to the thread pool even for a few hundred kilobytes: on a busy 2-core machine the hand-off cost more
;; than the work. These are single passes on the calling thread, with tfjs-cpu's values:
;;   relu:       out = max(x, 0) as tfjs-cpu's Math.max(0, x): NaN stays NaN, −0 becomes +0; n % 16 = 0.
;;   maxpool2x2: 2×2 windows of stride 2 over NHWC, no padding, C % 4 = 0; each output is the running
;;               `v > best ? v : best` from −∞ over the window in row-major order (a NaN never wins,
;;               as on cpu). Inputs of odd height/width leave their last row/column unread.
;;
;; Pointers and strides are bytes; loads are unaligned f32x4.
;;
;; Build: node scripts/build-wasm.mjs (writes forward.generated.ts; CI checks it with --check).
(module
  (import "env" "memory" (memory 0))


  ;; 4 rows × 8 columns of C at cp (row stride $cs).
  (func $t4x8 (param $ap i32) (param $bp i32) (param $cp i32) (param $k i32)
    (param $asM i32) (param $asK i32) (param $bsK i32) (param $cs i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $a1 (i32.add (local.get $ap) (local.get $asM)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $asM)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $asM)))
    (loop $k
      (local.set $b0 (v128.load offset=0 (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $s (v128.load32_splat (local.get $ap)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
      (local.set $s (v128.load32_splat (local.get $a1)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
      (local.set $s (v128.load32_splat (local.get $a2)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
      (local.set $s (v128.load32_splat (local.get $a3)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (local.get $asK)))
      (local.set $a1 (i32.add (local.get $a1) (local.get $asK)))
      (local.set $a2 (i32.add (local.get $a2) (local.get $asK)))
      (local.set $a3 (i32.add (local.get $a3) (local.get $asK)))
      (local.set $bp (i32.add (local.get $bp) (local.get $bsK)))
      (br_if $k (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
    (v128.store offset=0 (local.get $cp) (local.get $c00))
    (v128.store offset=16 (local.get $cp) (local.get $c01))
    (local.set $cp (i32.add (local.get $cp) (local.get $cs)))
    (v128.store offset=0 (local.get $cp) (local.get $c10))
    (v128.store offset=16 (local.get $cp) (local.get $c11))
    (local.set $cp (i32.add (local.get $cp) (local.get $cs)))
    (v128.store offset=0 (local.get $cp) (local.get $c20))
    (v128.store offset=16 (local.get $cp) (local.get $c21))
    (local.set $cp (i32.add (local.get $cp) (local.get $cs)))
    (v128.store offset=0 (local.get $cp) (local.get $c30))
    (v128.store offset=16 (local.get $cp) (local.get $c31)))

  ;; One row of C from column byte offset $n0 to the row's end ($ce bytes), 4 columns at a time.
  (func $row (param $ap i32) (param $bp i32) (param $cp i32) (param $n0 i32) (param $ce i32) (param $k i32)
    (param $asK i32) (param $bsK i32)
    (local $a i32) (local $b i32) (local $i i32) (local $acc v128)
    (block $done
      (loop $cols
        (br_if $done (i32.ge_u (local.get $n0) (local.get $ce)))
        (local.set $a (local.get $ap))
        (local.set $b (i32.add (local.get $bp) (local.get $n0)))
        (local.set $i (local.get $k))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (loop $k
          (local.set $acc (f32x4.add (local.get $acc)
            (f32x4.mul (v128.load32_splat (local.get $a)) (v128.load (local.get $b)))))
          (local.set $a (i32.add (local.get $a) (local.get $asK)))
          (local.set $b (i32.add (local.get $b) (local.get $bsK)))
          (br_if $k (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
        (v128.store (i32.add (local.get $cp) (local.get $n0)) (local.get $acc))
        (local.set $n0 (i32.add (local.get $n0) (i32.const 16)))
        (br $cols))))

  (func (export "gemm") (param $ap i32) (param $bp i32) (param $cp i32) (param $M i32) (param $N i32)
    (param $K i32) (param $asM i32) (param $asK i32) (param $bsK i32)
    (local $m i32) (local $n i32) (local $cs i32) (local $r i32)
    (local.set $cs (i32.shl (local.get $N) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_s (local.get $m) (local.get $M)))
        (local.set $n (i32.const 0))
        (if (i32.le_s (i32.add (local.get $m) (i32.const 4)) (local.get $M))
          (then
            ;; A block of 4 rows: 4×8 tiles, then the columns left (0 or 4) row by row.
            (block $tiles_done
              (loop $tiles
                (br_if $tiles_done (i32.gt_s (i32.add (local.get $n) (i32.const 32)) (local.get $cs)))
                (call $t4x8 (local.get $ap) (i32.add (local.get $bp) (local.get $n))
                  (i32.add (local.get $cp) (local.get $n)) (local.get $K)
                  (local.get $asM) (local.get $asK) (local.get $bsK) (local.get $cs))
                (local.set $n (i32.add (local.get $n) (i32.const 32)))
                (br $tiles)))
            (local.set $r (i32.const 4)))
          (else (local.set $r (i32.const 1))))
        ;; Columns [n, N) of the next $r rows with 1×4 tiles.
        (loop $left
          (call $row (local.get $ap) (local.get $bp) (local.get $cp) (local.get $n) (local.get $cs)
            (local.get $K) (local.get $asK) (local.get $bsK))
          (local.set $ap (i32.add (local.get $ap) (local.get $asM)))
          (local.set $cp (i32.add (local.get $cp) (local.get $cs)))
          (local.set $m (i32.add (local.get $m) (i32.const 1)))
          (br_if $left (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
        (br $rows))))

  (func (export "gemmnt") (param $ap i32) (param $bp i32) (param $cp i32) (param $M i32) (param $N i32)
    (param $K i32)
    (local $ks i32) (local $b i32) (local $bEnd i32) (local $i i32) (local $a i32) (local $q i32)
    (local $av v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $ks (i32.shl (local.get $K) (i32.const 2)))
    (local.set $bEnd (i32.add (local.get $bp) (i32.mul (local.get $ks) (local.get $N))))
    (block $done
      (loop $rows
        (br_if $done (i32.le_s (local.get $M) (i32.const 0)))
        (local.set $b (local.get $bp))
        (loop $cols
          (local.set $s0 (v128.const i32x4 0 0 0 0))
          (local.set $s1 (v128.const i32x4 0 0 0 0))
          (local.set $s2 (v128.const i32x4 0 0 0 0))
          (local.set $s3 (v128.const i32x4 0 0 0 0))
          (local.set $a (local.get $ap))
          (local.set $q (local.get $b))
          (local.set $i (local.get $K))
          (loop $k
            (local.set $av (v128.load (local.get $a)))
            (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $av) (v128.load (local.get $q)))))
            (local.set $s1 (f32x4.add (local.get $s1)
              (f32x4.mul (local.get $av) (v128.load (i32.add (local.get $q) (local.get $ks))))))
            (local.set $s2 (f32x4.add (local.get $s2)
              (f32x4.mul (local.get $av) (v128.load (i32.add (local.get $q) (i32.shl (local.get $ks) (i32.const 1)))))))
            (local.set $s3 (f32x4.add (local.get $s3)
              (f32x4.mul (local.get $av) (v128.load (i32.add (local.get $q) (i32.mul (local.get $ks) (i32.const 3)))))))
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br_if $k (local.tee $i (i32.sub (local.get $i) (i32.const 4)))))
          ;; Lane sums of s0..s3 as one vector: pairwise interleave, add, then halves.
          (local.set $s0 (f32x4.add
            (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
          (local.set $s2 (f32x4.add
            (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
          (v128.store (local.get $cp) (f32x4.add
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s0) (local.get $s2))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s0) (local.get $s2))))
          (local.set $cp (i32.add (local.get $cp) (i32.const 16)))
          (local.set $b (i32.add (local.get $b) (i32.shl (local.get $ks) (i32.const 2))))
          (br_if $cols (i32.lt_u (local.get $b) (local.get $bEnd))))
        (local.set $ap (i32.add (local.get $ap) (local.get $ks)))
        (local.set $M (i32.sub (local.get $M) (i32.const 1)))
        (br $rows))))


  (func (export "relu") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $z v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    ;; Four vectors an iteration: a one-vector loop ran slower than XNNPACK's unrolled clamp.
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store offset=0 (local.get $out) (f32x4.max (v128.load offset=0 (local.get $x)) (local.get $z)))
        (v128.store offset=16 (local.get $out) (f32x4.max (v128.load offset=16 (local.get $x)) (local.get $z)))
        (v128.store offset=32 (local.get $out) (f32x4.max (v128.load offset=32 (local.get $x)) (local.get $z)))
        (v128.store offset=48 (local.get $out) (f32x4.max (v128.load offset=48 (local.get $x)) (local.get $z)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (br $vec))))

  (func (export "maxpool2x2")
    (param $x i32) (param $out i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $HO i32) (param $WO i32)
    (local $cb i32) (local $rs i32) (local $img i32) (local $r i32) (local $yc i32) (local $cc i32)
    (local $row i32) (local $p i32) (local $q i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $rs (i32.mul (local.get $W) (local.get $cb)))
    (local.set $img (i32.mul (local.get $H) (local.get $rs)))
    (block $done
      (br_if $done (i32.or (i32.or (i32.le_s (local.get $B) (i32.const 0)) (i32.le_s (local.get $C) (i32.const 0)))
                           (i32.or (i32.le_s (local.get $HO) (i32.const 0)) (i32.le_s (local.get $WO) (i32.const 0)))))
      (loop $batch
        (local.set $row (local.get $x))
        (local.set $r (local.get $HO))
        (loop $orow
          (local.set $p (local.get $row))
          (local.set $yc (local.get $WO))
          (loop $ocol
            (local.set $cc (i32.const 0))
            (loop $chan
              (local.set $q (i32.add (local.get $p) (local.get $cc)))
              (v128.store (local.get $out)
                (f32x4.pmax
                  (f32x4.pmax
                    (f32x4.pmax
                      (f32x4.pmax (v128.const f32x4 -inf -inf -inf -inf) (v128.load (local.get $q)))
                      (v128.load (i32.add (local.get $q) (local.get $cb))))
                    (v128.load (i32.add (local.get $q) (local.get $rs))))
                  (v128.load (i32.add (i32.add (local.get $q) (local.get $rs)) (local.get $cb)))))
              (local.set $out (i32.add (local.get $out) (i32.const 16)))
              (br_if $chan (i32.lt_s (local.tee $cc (i32.add (local.get $cc) (i32.const 16))) (local.get $cb))))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $cb) (i32.const 1))))
            (br_if $ocol (local.tee $yc (i32.sub (local.get $yc) (i32.const 1)))))
          (local.set $row (i32.add (local.get $row) (i32.shl (local.get $rs) (i32.const 1))))
          (br_if $orow (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
        (local.set $x (i32.add (local.get $x) (local.get $img)))
        (br_if $batch (local.tee $B (i32.sub (local.get $B) (i32.const 1)))))))
)
