//! Virtual time. One tick is one microsecond; a run starts at [`Time::ZERO`].

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant (or a span) of virtual time, in microseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// The end of time: used as "never".
    pub const MAX: Time = Time(u64::MAX);

    /// `n` microseconds.
    pub const fn us(n: u64) -> Time {
        Time(n)
    }

    /// `n` milliseconds.
    pub const fn ms(n: u64) -> Time {
        Time(n.saturating_mul(1_000))
    }

    /// Whole microseconds.
    pub const fn as_us(self) -> u64 {
        self.0
    }

    /// Whole milliseconds (truncated).
    pub const fn as_ms(self) -> u64 {
        self.0 / 1_000
    }

    /// Milliseconds as a float, for output (`12.345`).
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }

    /// `self - other`, or zero when `other` is later.
    pub const fn saturating_sub(self, other: Time) -> Time {
        Time(self.0.saturating_sub(other.0))
    }
}

impl Add for Time {
    type Output = Time;
    fn add(self, rhs: Time) -> Time {
        Time(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Time {
    fn add_assign(&mut self, rhs: Time) {
        *self = *self + rhs;
    }
}

impl Sub for Time {
    type Output = Time;
    fn sub(self, rhs: Time) -> Time {
        assert!(self >= rhs, "virtual time went backwards: {self} - {rhs}");
        Time(self.0 - rhs.0)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1_000, self.0 % 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_display() {
        assert_eq!(Time::ms(3), Time::us(3_000));
        assert_eq!(Time::ms(3).as_ms(), 3);
        assert_eq!(Time::us(12_345).to_string(), "12.345ms");
        assert_eq!(Time::us(12_345).as_ms_f64(), 12.345);
        assert_eq!(Time::MAX + Time::ms(1), Time::MAX);
        assert_eq!(Time::ms(1).saturating_sub(Time::ms(2)), Time::ZERO);
    }

    #[test]
    #[should_panic(expected = "backwards")]
    fn subtraction_never_goes_negative() {
        let _ = Time::ms(1) - Time::ms(2);
    }
}
