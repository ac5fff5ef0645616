;; SIMD inner loops of the fused optimizer steps, run in place on tfjs-backend-wasm's heap.
;;
;; The module imports the backend's own WebAssembly.Memory, so a tensor is addressed by the byte offset
;; tfjs already keeps for it: nothing is copied in or out. Every function takes byte pointers and an
;; element count n that is a multiple of 4 (the caller runs the last n mod 4 elements in JS), and uses
;; unaligned f32x4 loads/stores (malloc'ed tensors are 8-byte aligned, rows of a tensor need not be).
;;
;; Arithmetic is float32 per element, like tfjs's kernels. Whole-tensor sums are accumulated in f64x2
;; (each f32x4 product is widened before it is added) because a 2.4M-element float32 sum would lose
;; ~3 decimal digits, and FTP's γ and SPD's/DiGraP's branch conditions are decided by those sums.
;; The sums are returned in the exported globals s0..s4.
;;
;; Adam, as the JS loops compute it (loops.ts), with per-tensor constants hoisted by the caller:
;;   m' = b1·m + c1·g,  v' = b2·v + c2·g²,  θ' = dk·θ + sk · m' / (√v'·rs2 + e)
;; where rs2 = 1/√(1−β₂ˢ), sk = −η/(1−β₁ˢ), dk = 1 − η·wd.
;;
;; Build: node scripts/build-wasm.mjs (writes src/fused/wasm/steps.generated.ts).
(module
  (import "env" "memory" (memory 0))
  (global $s0 (export "s0") (mut f64) (f64.const 0))
  (global $s1 (export "s1") (mut f64) (f64.const 0))
  (global $s2 (export "s2") (mut f64) (f64.const 0))
  (global $s3 (export "s3") (mut f64) (f64.const 0))
  (global $s4 (export "s4") (mut f64) (f64.const 0))
  ;; The 'guard' check, folded into every pass that reads g: each adds its lanes of g − g (+0 for a
  ;; finite entry, NaN for NaN or ±Inf) here, so the caller learns whether a batch's gradients were all
  ;; finite without a second read of them. The caller zeroes it before a batch.
  (global $bad (export "bad") (mut f32) (f32.const 0))

  ;; Each sum widens an f32x4 of products into an f64x2 accumulator, written out at every use
  ;; (promote the low two lanes, and the high two after a shuffle): V8 does not inline wasm calls here,
  ;; and a call per 4 elements cost ~10 % of a step in the profile.

  (func $hsum (param $acc v128) (result f64)
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

  ;; Adds a pass's f32x4 accumulator of g − g into $bad (once per call, not per element).
  (func $nonfinite (param $nf v128)
    (global.set $bad
      (f32.add (global.get $bad)
        (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $nf)) (f32x4.extract_lane 1 (local.get $nf)))
          (f32.add (f32x4.extract_lane 2 (local.get $nf)) (f32x4.extract_lane 3 (local.get $nf)))))))

  ;; AdamW: θ, g, m, v → θ', m', v'.
  (func (export "adam")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32)
    (param $tho i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32) (param $dk f32)
    (local $i i32) (local $nf v128) (local $end i32)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128) (local $DK v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (local.set $DK (f32x4.splat (local.get $dk)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $gv) (local.get $gv))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $tho) (local.get $i))
          (f32x4.add
            (f32x4.mul (local.get $DK) (v128.load (i32.add (local.get $th) (local.get $i))))
            (f32x4.mul (local.get $SK)
              (f32x4.div (local.get $mv)
                (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
    (call $nonfinite (local.get $nf)))

  ;; L2-SP: Adam on ĝ = g + α(θ − θ₀) (no decoupled decay: dk = 1).
  (func (export "l2sp")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $an i32)
    (param $tho i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32) (param $alpha f32)
    (local $i i32) (local $nf v128) (local $graw v128) (local $end i32)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128) (local $A v128)
    (local $tv v128) (local $gv v128) (local $mv v128) (local $vv v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (local.set $A (f32x4.splat (local.get $alpha)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $tv (v128.load (i32.add (local.get $th) (local.get $i))))
        (local.set $graw (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $graw) (local.get $graw))))
        (local.set $gv
          (f32x4.add (local.get $graw)
            (f32x4.mul (local.get $A)
              (f32x4.sub (local.get $tv) (v128.load (i32.add (local.get $an) (local.get $i)))))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $tho) (local.get $i))
          (f32x4.add (local.get $tv)
            (f32x4.mul (local.get $SK)
              (f32x4.div (local.get $mv)
                (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
    (call $nonfinite (local.get $nf)))

  ;; FTP pass 1 over one row (or a piece of one): AdamW, c = θ' − θ₀ stored, s0 = Σ|c|, s1 = Σ g·c_prev.
  ;; Without a previous c the caller passes $cp = $g and ignores s1.
  (func (export "ftp1")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $an i32) (param $cp i32)
    (param $co i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32) (param $dk f32)
    (local $i i32) (local $nf v128) (local $w v128) (local $end i32)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128) (local $DK v128)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $cv v128)
    (local $l1 v128) (local $h v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (local.set $DK (f32x4.splat (local.get $dk)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $gv) (local.get $gv))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (local.set $cv
          (f32x4.sub
            (f32x4.add
              (f32x4.mul (local.get $DK) (v128.load (i32.add (local.get $th) (local.get $i))))
              (f32x4.mul (local.get $SK)
                (f32x4.div (local.get $mv)
                  (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E)))))
            (v128.load (i32.add (local.get $an) (local.get $i)))))
        (v128.store (i32.add (local.get $co) (local.get $i)) (local.get $cv))
        (local.set $w (f32x4.abs (local.get $cv)))
        (local.set $l1
          (f64x2.add (local.get $l1)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $gv) (v128.load (i32.add (local.get $cp) (local.get $i)))))
        (local.set $h
          (f64x2.add (local.get $h)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
    (global.set $s0 (call $hsum (local.get $l1)))
    (global.set $s1 (call $hsum (local.get $h)))
    (call $nonfinite (local.get $nf)))

  ;; out = a·x + b·y (FTP's projection θ₀ + r·c; SPD's decay q − s(q − θ₀) = (1 − s)q + s·θ₀; may be in place).
  (func (export "axpby")
    (param $x i32) (param $y i32) (param $out i32) (param $n i32) (param $a f32) (param $b f32)
    (local $i i32) (local $end i32) (local $A v128) (local $B v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $A (f32x4.splat (local.get $a)))
    (local.set $B (f32x4.splat (local.get $b)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.add
            (f32x4.mul (local.get $A) (v128.load (i32.add (local.get $x) (local.get $i))))
            (f32x4.mul (local.get $B) (v128.load (i32.add (local.get $y) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end))))))

  ;; SPD pass 1: Adam (no decay), q stored as θ'; s0 = Σ g·(θ − θ₀), s1 = Σ (q − θ₀)², s2 = Σ (θ − θ₀)².
  (func (export "spd1")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $an i32)
    (param $tho i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32)
    (local $i i32) (local $nf v128) (local $w v128) (local $end i32)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128)
    (local $tv v128) (local $av v128) (local $gv v128) (local $mv v128) (local $vv v128)
    (local $q v128) (local $dt v128) (local $dq v128)
    (local $dot v128) (local $qq v128) (local $tt v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $tv (v128.load (i32.add (local.get $th) (local.get $i))))
        (local.set $av (v128.load (i32.add (local.get $an) (local.get $i))))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $gv) (local.get $gv))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (local.set $q
          (f32x4.add (local.get $tv)
            (f32x4.mul (local.get $SK)
              (f32x4.div (local.get $mv)
                (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E))))))
        (v128.store (i32.add (local.get $tho) (local.get $i)) (local.get $q))
        (local.set $dt (f32x4.sub (local.get $tv) (local.get $av)))
        (local.set $dq (f32x4.sub (local.get $q) (local.get $av)))
        (local.set $w (f32x4.mul (local.get $gv) (local.get $dt)))
        (local.set $dot
          (f64x2.add (local.get $dot)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $dq) (local.get $dq)))
        (local.set $qq
          (f64x2.add (local.get $qq)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $dt) (local.get $dt)))
        (local.set $tt
          (f64x2.add (local.get $tt)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
    (global.set $s0 (call $hsum (local.get $dot)))
    (global.set $s1 (call $hsum (local.get $qq)))
    (global.set $s2 (call $hsum (local.get $tt)))
    (call $nonfinite (local.get $nf)))

  ;; DiGraP pass 1 (reads only): c = θ − θ₀; s0 = Σ g·c, s1 = Σ g², s2 = Σ c², and with G = g + λc,
  ;; s3 = Σ G·P_prev, s4 = Σ G·Q_prev. Without P/Q the caller passes $pp = $qp = $g and ignores s3, s4.
  (func (export "digrap1")
    (param $th i32) (param $g i32) (param $an i32) (param $pp i32) (param $qp i32) (param $n i32)
    (param $lambda f32)
    (local $i i32) (local $nf v128) (local $w v128) (local $end i32) (local $L v128)
    (local $gv v128) (local $cv v128) (local $G v128)
    (local $dot v128) (local $gg v128) (local $cc v128) (local $hl v128) (local $hr v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $L (f32x4.splat (local.get $lambda)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $gv) (local.get $gv))))
        (local.set $cv
          (f32x4.sub (v128.load (i32.add (local.get $th) (local.get $i)))
            (v128.load (i32.add (local.get $an) (local.get $i)))))
        (local.set $G (f32x4.add (local.get $gv) (f32x4.mul (local.get $L) (local.get $cv))))
        (local.set $w (f32x4.mul (local.get $gv) (local.get $cv)))
        (local.set $dot
          (f64x2.add (local.get $dot)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $gv) (local.get $gv)))
        (local.set $gg
          (f64x2.add (local.get $gg)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $cv) (local.get $cv)))
        (local.set $cc
          (f64x2.add (local.get $cc)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $G) (v128.load (i32.add (local.get $pp) (local.get $i)))))
        (local.set $hl
          (f64x2.add (local.get $hl)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $w (f32x4.mul (local.get $G) (v128.load (i32.add (local.get $qp) (local.get $i)))))
        (local.set $hr
          (f64x2.add (local.get $hr)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
    (global.set $s0 (call $hsum (local.get $dot)))
    (global.set $s1 (call $hsum (local.get $gg)))
    (global.set $s2 (call $hsum (local.get $cc)))
    (global.set $s3 (call $hsum (local.get $hl)))
    (global.set $s4 (call $hsum (local.get $hr)))
    (call $nonfinite (local.get $nf)))

  ;; DiGraP pass 2: c = θ − θ₀, ĝ = gs·g + cs·c, Adam on ĝ (no decay), P = α·c, Q = β·g.
  (func (export "digrap2")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $an i32)
    (param $tho i32) (param $mo i32) (param $vo i32) (param $po i32) (param $qo i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32)
    (param $gs f32) (param $cs f32) (param $alpha f32) (param $beta f32)
    (local $i i32) (local $end i32)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128)
    (local $GS v128) (local $CS v128) (local $AL v128) (local $BE v128)
    (local $tv v128) (local $gv v128) (local $cv v128) (local $gh v128) (local $mv v128) (local $vv v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (local.set $GS (f32x4.splat (local.get $gs)))
    (local.set $CS (f32x4.splat (local.get $cs)))
    (local.set $AL (f32x4.splat (local.get $alpha)))
    (local.set $BE (f32x4.splat (local.get $beta)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $tv (v128.load (i32.add (local.get $th) (local.get $i))))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $cv (f32x4.sub (local.get $tv) (v128.load (i32.add (local.get $an) (local.get $i)))))
        (local.set $gh
          (f32x4.add (f32x4.mul (local.get $GS) (local.get $gv)) (f32x4.mul (local.get $CS) (local.get $cv))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $C1) (local.get $gh))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gh) (local.get $gh)))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $tho) (local.get $i))
          (f32x4.add (local.get $tv)
            (f32x4.mul (local.get $SK)
              (f32x4.div (local.get $mv)
                (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E))))))
        (v128.store (i32.add (local.get $po) (local.get $i)) (f32x4.mul (local.get $AL) (local.get $cv)))
        (v128.store (i32.add (local.get $qo) (local.get $i)) (f32x4.mul (local.get $BE) (local.get $gv)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end))))))

  ;; FTP pass 1 over a whole tensor of `rows` rows of `rl` elements (rl a multiple of 4): per row as
  ;; ftp1, then ro[r] = 1/n with n = Σ|c| + 1e-8, s0 = max n, and (with $use ≠ 0) s1 = Σ_r rp[r]·Σ g·c_prev.
  ;; One call per tensor instead of one per row: a ViT-like set has thousands of short rows.
  (func (export "ftp1rows")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $an i32) (param $cp i32)
    (param $co i32) (param $mo i32) (param $vo i32) (param $ro i32) (param $rp i32)
    (param $rows i32) (param $rl i32) (param $use i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32) (param $dk f32)
    (local $i i32) (local $nf v128) (local $w v128) (local $end i32) (local $r i32) (local $n f64) (local $maxn f64) (local $h f64)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128) (local $DK v128)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $cv v128)
    (local $l1 v128) (local $hr v128)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (local.set $DK (f32x4.splat (local.get $dk)))
    (block $rowsdone
      (br_if $rowsdone (i32.eqz (local.get $rows)))
      (loop $row
        (local.set $l1 (v128.const i64x2 0 0))
        (local.set $hr (v128.const i64x2 0 0))
        (local.set $end (i32.add (local.get $i) (i32.shl (local.get $rl) (i32.const 2))))
        (block $done
          (br_if $done (i32.eqz (local.get $rl)))
          (loop $next
            (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
            (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $gv) (local.get $gv))))
            (local.set $mv
              (f32x4.add
                (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
                (f32x4.mul (local.get $C1) (local.get $gv))))
            (local.set $vv
              (f32x4.add
                (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
                (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
            (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
            (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
            (local.set $cv
              (f32x4.sub
                (f32x4.add
                  (f32x4.mul (local.get $DK) (v128.load (i32.add (local.get $th) (local.get $i))))
                  (f32x4.mul (local.get $SK)
                    (f32x4.div (local.get $mv)
                      (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E)))))
                (v128.load (i32.add (local.get $an) (local.get $i)))))
            (v128.store (i32.add (local.get $co) (local.get $i)) (local.get $cv))
            (local.set $w (f32x4.abs (local.get $cv)))
            (local.set $l1
              (f64x2.add (local.get $l1)
                (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $w (f32x4.mul (local.get $gv) (v128.load (i32.add (local.get $cp) (local.get $i)))))
            (local.set $hr
              (f64x2.add (local.get $hr)
                (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
        (local.set $n (f64.add (call $hsum (local.get $l1)) (f64.const $FTP_EPS)))
        (f32.store (i32.add (local.get $ro) (i32.shl (local.get $r) (i32.const 2)))
          (f32.demote_f64 (f64.div (f64.const 1) (local.get $n))))
        (local.set $maxn (f64.max (local.get $maxn) (local.get $n)))
        (if (local.get $use)
          (then
            (local.set $h
              (f64.add (local.get $h)
                (f64.mul (call $hsum (local.get $hr))
                  (f64.promote_f32 (f32.load (i32.add (local.get $rp) (i32.shl (local.get $r) (i32.const 2))))))))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $row (i32.lt_u (local.get $r) (local.get $rows)))))
    (global.set $s0 (local.get $maxn))
    (global.set $s1 (local.get $h))
    (call $nonfinite (local.get $nf)))

  ;; FTP pass 2 over a whole tensor: θ' = θ₀ + clamp(γ·ro[r], 0, 1)·c, row by row (rl a multiple of 4).
  (func (export "ftp2rows")
    (param $an i32) (param $co i32) (param $tho i32) (param $ro i32)
    (param $rows i32) (param $rl i32) (param $gamma f64)
    (local $i i32) (local $end i32) (local $r i32) (local $R v128)
    (block $rowsdone
      (br_if $rowsdone (i32.eqz (local.get $rows)))
      (loop $row
        (local.set $R
          (f32x4.splat
            (f32.demote_f64
              (f64.min (f64.const 1)
                (f64.max (f64.const 0)
                  (f64.mul (local.get $gamma)
                    (f64.promote_f32 (f32.load (i32.add (local.get $ro) (i32.shl (local.get $r) (i32.const 2)))))))))))
        (local.set $end (i32.add (local.get $i) (i32.shl (local.get $rl) (i32.const 2))))
        (block $done
          (br_if $done (i32.eqz (local.get $rl)))
          (loop $next
            (v128.store (i32.add (local.get $tho) (local.get $i))
              (f32x4.add (v128.load (i32.add (local.get $an) (local.get $i)))
                (f32x4.mul (local.get $R) (v128.load (i32.add (local.get $co) (local.get $i))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $row (i32.lt_u (local.get $r) (local.get $rows))))))

  ;; FTP on strided rows (every tfjs layout: Dense [in,out], Conv [..,cin,cout], depthwise [..,cin,mult]):
;; the tensor is [outer, rows] and element e belongs to row e mod rows, i.e. a column. Pass 1 over n
;; elements (n a multiple of rows, rows a multiple of 4): AdamW, c stored, acc[col] += |c| in one f64 per
;; column (two f64x2 per 4 columns; acc is 8·rows bytes and stays in cache), s1 = Σ g·c_prev·rp[col]
;; (the caller ignores s1 without R_prev, passing any valid rp). acc is not zeroed here, so a caller may
;; stream whole [rows] blocks through several calls.
  (func (export "ftp1cols")
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $an i32) (param $cp i32)
    (param $co i32) (param $mo i32) (param $vo i32) (param $acc i32) (param $rp i32)
    (param $rows i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $rs2 f32) (param $e f32) (param $sk f32) (param $dk f32)
    (local $i i32) (local $nf v128) (local $j i32) (local $end i32) (local $rowBytes i32) (local $a i32) (local $w v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $RS2 v128) (local $E v128) (local $SK v128) (local $DK v128)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $cv v128) (local $h v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $RS2 (f32x4.splat (local.get $rs2)))
    (local.set $E (f32x4.splat (local.get $e)))
    (local.set $SK (f32x4.splat (local.get $sk)))
    (local.set $DK (f32x4.splat (local.get $dk)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $nf (f32x4.add (local.get $nf) (f32x4.sub (local.get $gv) (local.get $gv))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (local.set $cv
          (f32x4.sub
            (f32x4.add
              (f32x4.mul (local.get $DK) (v128.load (i32.add (local.get $th) (local.get $i))))
              (f32x4.mul (local.get $SK)
                (f32x4.div (local.get $mv)
                  (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $RS2)) (local.get $E)))))
            (v128.load (i32.add (local.get $an) (local.get $i)))))
        (v128.store (i32.add (local.get $co) (local.get $i)) (local.get $cv))
        ;; acc[col..col+3] (f64) += |c|: column byte offset j → acc byte offset 2j.
        (local.set $w (f32x4.abs (local.get $cv)))
        (local.set $a (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 1))))
        (v128.store (local.get $a)
          (f64x2.add (v128.load (local.get $a)) (f64x2.promote_low_f32x4 (local.get $w))))
        (v128.store offset=16 (local.get $a)
          (f64x2.add (v128.load offset=16 (local.get $a))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w)))))
        (local.set $w
          (f32x4.mul (f32x4.mul (local.get $gv) (v128.load (i32.add (local.get $cp) (local.get $i))))
            (v128.load (i32.add (local.get $rp) (local.get $j)))))
        (local.set $h
          (f64x2.add (local.get $h)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $w))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (if (i32.eq (local.get $j) (local.get $rowBytes)) (then (local.set $j (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))
    (global.set $s1 (call $hsum (local.get $h)))
    (call $nonfinite (local.get $nf)))

  ;; After ftp1cols: ro[r] = 1/n with n = acc[r] + 1e-8 (f64), s0 = max n.
  (func (export "ftpcolsfin") (param $acc i32) (param $ro i32) (param $rows i32)
    (local $r i32) (local $n f64) (local $maxn f64)
    (block $done
      (br_if $done (i32.eqz (local.get $rows)))
      (loop $next
        (local.set $n
          (f64.add (f64.load (i32.add (local.get $acc) (i32.shl (local.get $r) (i32.const 3)))) (f64.const $FTP_EPS)))
        (f32.store (i32.add (local.get $ro) (i32.shl (local.get $r) (i32.const 2)))
          (f32.demote_f64 (f64.div (f64.const 1) (local.get $n))))
        (local.set $maxn (f64.max (local.get $maxn) (local.get $n)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $r) (local.get $rows)))))
    (global.set $s0 (local.get $maxn)))

  ;; FTP's projection scale per column, sc[r] = clamp(γ·ro[r], 0, 1) (computed in f64, as ftp2rows).
  (func (export "ftpscale") (param $ro i32) (param $sc i32) (param $rows i32) (param $gamma f64)
    (local $r i32) (local $o i32)
    (block $done
      (br_if $done (i32.eqz (local.get $rows)))
      (loop $next
        (local.set $o (i32.shl (local.get $r) (i32.const 2)))
        (f32.store (i32.add (local.get $sc) (local.get $o))
          (f32.demote_f64
            (f64.min (f64.const 1)
              (f64.max (f64.const 0)
                (f64.mul (local.get $gamma) (f64.promote_f32 (f32.load (i32.add (local.get $ro) (local.get $o)))))))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $r) (local.get $rows))))))

  ;; FTP pass 2 on columns: θ' = θ₀ + sc[col]·c over n elements (n a multiple of rows, rows of 4).
  (func (export "ftp2cols")
    (param $an i32) (param $co i32) (param $tho i32) (param $sc i32) (param $rows i32) (param $n i32)
    (local $i i32) (local $j i32) (local $end i32) (local $rowBytes i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $rows) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $next
        (v128.store (i32.add (local.get $tho) (local.get $i))
          (f32x4.add (v128.load (i32.add (local.get $an) (local.get $i)))
            (f32x4.mul (v128.load (i32.add (local.get $sc) (local.get $j)))
              (v128.load (i32.add (local.get $co) (local.get $i))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (if (i32.eq (local.get $j) (local.get $rowBytes)) (then (local.set $j (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end))))))
)
