//! Software x87 extended precision: the format numpy's `longdouble` has on x86-64, in which
//! nibabel's `_range_scale` computes. Finite values only; no exponent limits (the writers'
//! values stay far inside the x87 range).
//!
//! nibabel's `casting.py` territory: the precision its array writers compute in
//! (`array/write_scale.rs`, "Precision: nibabel's long double, emulated", says where plain
//! `f64` gives other scale factors).
//!
//! Why no crate: the only generic piece is extended-precision arithmetic; a soft-float crate
//! with an x87 type (such as `rustc_apfloat`) would be a dependency for five operations on
//! finite numbers. These ~250 lines are tested against `f64` here and, through the writers,
//! against nibabel.

/// `±mant × 2^exp`, with `mant == 0` (zero) or `mant ≥ 2⁶³` (normalised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ext {
    neg: bool,
    mant: u64,
    exp: i32,
}

impl Ext {
    const ZERO: Ext = Ext {
        neg: false,
        mant: 0,
        exp: 0,
    };

    /// A finite `f64`, exactly.
    pub(super) fn from_f64(x: f64) -> Ext {
        let bits = x.to_bits();
        let neg = bits >> 63 != 0;
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), biased - 1075)
        };
        Self::round(neg, u128::from(m), e, false)
    }

    /// An integer, rounded to 64 significant bits (exact for every 64-bit integer).
    pub(super) fn from_int(v: i128) -> Ext {
        Self::round(v < 0, v.unsigned_abs(), 0, false)
    }

    /// `m × 2^exp` rounded to 64 significant bits, half to even; `sticky` says that
    /// non-zero bits lie below `m` (only used when `m` has more than 64 bits).
    fn round(neg: bool, m: u128, exp: i32, sticky: bool) -> Ext {
        if m == 0 {
            return Ext { neg, ..Ext::ZERO };
        }
        let bits = 128 - m.leading_zeros() as i32;
        if bits <= 64 {
            let shift = 64 - bits;
            return Ext {
                neg,
                mant: (m << shift) as u64,
                exp: exp - shift,
            };
        }
        let shift = (bits - 64) as u32;
        let kept = (m >> shift) as u64;
        let rem = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
        let mut exp = exp + shift as i32;
        let mant = if up {
            kept.checked_add(1).unwrap_or_else(|| {
                exp += 1;
                1u64 << 63
            })
        } else {
            kept
        };
        Ext { neg, mant, exp }
    }

    pub(super) fn neg(self) -> Ext {
        Ext {
            neg: !self.neg,
            ..self
        }
    }

    pub(super) fn is_zero(self) -> bool {
        self.mant == 0
    }

    pub(super) fn add(self, o: Ext) -> Ext {
        if self.is_zero() {
            return if o.is_zero() {
                Ext {
                    neg: self.neg && o.neg,
                    ..Ext::ZERO
                }
            } else {
                o
            };
        }
        if o.is_zero() {
            return self;
        }
        // |a| >= |b|: normalised values order by (exponent, significand).
        let (a, b) = if (self.exp, self.mant) >= (o.exp, o.mant) {
            (self, o)
        } else {
            (o, self)
        };
        let d = (a.exp - b.exp) as u32;
        let am = u128::from(a.mant) << 62;
        let b_full = u128::from(b.mant) << 62;
        // Align b; the bits shifted out are "jammed" into the lowest bit, which lies far
        // below the rounding position (62 spare bits), so rounding stays correct.
        let bm = if d >= 127 {
            1
        } else {
            let lost = b_full & ((1u128 << d) - 1) != 0;
            (b_full >> d) | u128::from(lost)
        };
        let e = a.exp - 62;
        if a.neg == b.neg {
            Self::round(a.neg, am + bm, e, false)
        } else if am == bm {
            Ext::ZERO
        } else {
            Self::round(a.neg, am - bm, e, false)
        }
    }

    pub(super) fn sub(self, o: Ext) -> Ext {
        self.add(o.neg())
    }

    pub(super) fn mul(self, o: Ext) -> Ext {
        let neg = self.neg != o.neg;
        Self::round(
            neg,
            u128::from(self.mant) * u128::from(o.mant),
            self.exp + o.exp,
            false,
        )
    }

    /// `self / o`; `o` must not be zero (the writers never divide by zero).
    pub(super) fn div(self, o: Ext) -> Ext {
        let neg = self.neg != o.neg;
        if self.is_zero() || o.is_zero() {
            return Ext { neg, ..Ext::ZERO };
        }
        let n = u128::from(self.mant) << 64;
        let d = u128::from(o.mant);
        let (mut q, mut r) = (n / d, n % d);
        let mut e = self.exp - o.exp - 64;
        if q >> 64 == 0 {
            // A 64-bit quotient: one more bit so that rounding sees a guard bit.
            r <<= 1;
            q <<= 1;
            if r >= d {
                r -= d;
                q |= 1;
            }
            e -= 1;
        }
        Self::round(neg, q, e, r != 0)
    }

    /// True if `self > o`.
    pub(super) fn greater(self, o: Ext) -> bool {
        let d = self.sub(o);
        !d.is_zero() && !d.neg
    }

    /// Rounded once to float32, half to even, with float32 subnormals and overflow to ±inf
    /// (x87 `fstp` to a 32-bit float, numpy's `longdouble` → `float32` cast).
    pub(super) fn to_f32(self) -> f32 {
        let sign = if self.neg { -1.0f32 } else { 1.0 };
        if self.is_zero() {
            return sign * 0.0;
        }
        let top = self.exp + 63;
        if top >= 128 {
            return sign * f32::INFINITY;
        }
        let lsb = (top - 23).max(-149);
        let shift = (lsb - self.exp) as u32;
        if shift > 64 {
            return sign * 0.0;
        }
        let m = u128::from(self.mant);
        let kept = m >> shift;
        let rem = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let kept = if rem > half || (rem == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        };
        // kept ≤ 2^24 and -149 ≤ lsb ≤ 104: the f64 product is exact, the f32 cast exact
        // or +inf for 2^128.
        let pow2 = f64::from_bits(((lsb + 1023) as u64) << 52);
        sign * ((kept as f64) * pow2) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::Ext;

    fn f(x: f64) -> Ext {
        Ext::from_f64(x)
    }

    #[test]
    fn exact_operations_agree_with_f64() {
        let vals = [
            1.0,
            -2.5,
            3.75,
            1e10,
            -7.0e-3,
            0.1,
            255.0,
            -128.0,
            4294967040.0,
        ];
        for &a in &vals {
            for &b in &vals {
                // The f64 result rounded to f32 equals the extended result rounded to f32
                // unless a double rounding intervenes, which these values avoid.
                assert_eq!(f(a).add(f(b)).to_f32(), (a + b) as f32, "{a} + {b}");
                assert_eq!(f(a).sub(f(b)).to_f32(), (a - b) as f32, "{a} - {b}");
                assert_eq!(f(a).mul(f(b)).to_f32(), (a * b) as f32, "{a} * {b}");
                assert_eq!(f(a).div(f(b)).to_f32(), (a / b) as f32, "{a} / {b}");
                assert_eq!(f(a).greater(f(b)), a > b);
            }
        }
    }

    #[test]
    fn holds_64_bits() {
        // 2^64 - 1 is exact; 2^64 + 1 rounds to 2^64; (2^64 - 1) - (2^64 - 2) == 1.
        let big = Ext::from_int((1i128 << 64) - 1);
        assert_eq!(big.sub(Ext::from_int((1i128 << 64) - 2)).to_f32(), 1.0);
        assert_eq!(
            Ext::from_int((1i128 << 64) + 1)
                .sub(Ext::from_int(1i128 << 64))
                .to_f32(),
            0.0
        );
        // 1 + 2^-63 is exact in extended precision but not in f64.
        let tiny = f(2f64.powi(-63));
        assert_eq!(f(1.0).add(tiny).sub(f(1.0)).to_f32(), 2f32.powi(-63));
        // 1 + 2^-64 ties to even: 1.
        assert_eq!(f(1.0).add(f(2f64.powi(-64))).sub(f(1.0)).to_f32(), 0.0);
        // 1/3 in extended precision, then to f32.
        assert_eq!(f(1.0).div(f(3.0)).to_f32(), 1.0f32 / 3.0);
    }

    #[test]
    fn float32_rounding_edges() {
        assert_eq!(f(3.5e38).to_f32(), f32::INFINITY);
        assert_eq!(f(-3.5e38).to_f32(), f32::NEG_INFINITY);
        assert_eq!(f(f64::from(f32::MAX)).to_f32(), f32::MAX);
        assert_eq!(f(1e-45).to_f32(), 1e-45f32);
        assert_eq!(f(8e-46).to_f32(), 1e-45f32);
        // Exactly half the smallest subnormal: ties to even (0); just above: rounds up.
        assert_eq!(f(2f64.powi(-150)).to_f32(), 0.0);
        assert_eq!(f(2f64.powi(-150) * 1.0001).to_f32(), 1e-45f32);
        assert_eq!(f(3.0 * 2f64.powi(-150)).to_f32(), 2.0 * 1e-45f32);
        assert_eq!(f(1e-310).to_f32(), 0.0);
        // Halfway between 1 and the next float32: ties to even (1).
        assert_eq!(f(1.0 + 2f64.powi(-24)).to_f32(), 1.0);
        assert_eq!(
            f(1.0 + 2f64.powi(-24) + 2f64.powi(-40)).to_f32(),
            1.0 + 2f32.powi(-23)
        );
        assert!(f(-0.0).to_f32().is_sign_negative());
    }
}
