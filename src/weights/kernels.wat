;; The inner loops of the low-rank fold (lowrank.ts), in WebAssembly SIMD.
;; Weights are float32 (w, src, dst); the fold's factors and sums are float64
;; (p, q, x), as in the plain TypeScript loops they replace: each element is
;; computed in float64 and rounded to float32 once, so `update` and `acc`
;; give the same bits as those loops. Pointers are byte offsets into the
;; exported memory; n counts elements.
;;
;; Regenerate kernels.wasm.ts after editing: node scripts/build-kernels.mjs
(module
  (memory (export "memory") 1)

  ;; p[i] += a * w[i]   (w float32, p float64)
  (func (export "acc") (param $w i32) (param $p i32) (param $n i32) (param $a f64)
    (local $i i32) (local $end i32) (local $av v128) (local $v v128) (local $pp i32)
    (local.set $av (f64x2.splat (local.get $a)))
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $pp (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
        (v128.store (local.get $pp)
          (f64x2.add (v128.load (local.get $pp))
            (f64x2.mul (local.get $av) (f64x2.promote_low_f32x4 (local.get $v)))))
        (v128.store offset=16 (local.get $pp)
          (f64x2.add (v128.load offset=16 (local.get $pp))
            (f64x2.mul (local.get $av)
              (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $pp (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
        (f64.store (local.get $pp)
          (f64.add (f64.load (local.get $pp))
            (f64.mul (local.get $a)
              (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; p[i] += a * x[i]   (x and p float64)
  (func (export "acc64") (param $x i32) (param $p i32) (param $n i32) (param $a f64)
    (local $i i32) (local $end i32) (local $av v128) (local $pp i32) (local $xp i32)
    (local.set $av (f64x2.splat (local.get $a)))
    (local.set $end (i32.and (local.get $n) (i32.const -2)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $pp (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
        (local.set $xp (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
        (v128.store (local.get $pp)
          (f64x2.add (v128.load (local.get $pp)) (f64x2.mul (local.get $av) (v128.load (local.get $xp)))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $loop)))
    (if (i32.lt_u (local.get $i) (local.get $n))
      (then
        (local.set $pp (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
        (f64.store (local.get $pp)
          (f64.add (f64.load (local.get $pp))
            (f64.mul (local.get $a) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))))))))

  ;; sum of w[i] * q[i]   (w float32, q float64), in four running sums
  (func (export "dot") (param $w i32) (param $q i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $v v128) (local $s0 v128) (local $s1 v128) (local $qp i32) (local $s f64)
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $qp (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 3))))
        (local.set $s0 (f64x2.add (local.get $s0)
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (v128.load (local.get $qp)))))
        (local.set $s1 (f64x2.add (local.get $s1)
          (f64x2.mul
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
            (v128.load offset=16 (local.get $qp)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop)))
    (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (f64.add (local.get $s)
          (f64.mul
            (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
            (f64.load (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 3)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (local.get $s))

  ;; dst[i] = float32(src[i] + a * p[i])   (src, dst float32, may be the same; p float64)
  (func (export "update") (param $src i32) (param $dst i32) (param $p i32) (param $n i32) (param $a f64)
    (local $i i32) (local $end i32) (local $av v128) (local $v v128) (local $pp i32) (local $lo v128) (local $hi v128)
    (local.set $av (f64x2.splat (local.get $a)))
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $pp (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
        (local.set $lo (f32x4.demote_f64x2_zero
          (f64x2.add (f64x2.promote_low_f32x4 (local.get $v))
            (f64x2.mul (local.get $av) (v128.load (local.get $pp))))))
        (local.set $hi (f32x4.demote_f64x2_zero
          (f64x2.add
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
            (f64x2.mul (local.get $av) (v128.load offset=16 (local.get $pp))))))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lo) (local.get $hi)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64
            (f64.add
              (f64.promote_f32 (f32.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
              (f64.mul (local.get $a) (f64.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))
)
