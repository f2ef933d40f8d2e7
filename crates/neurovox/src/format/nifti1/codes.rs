//! NIfTI's code tables as nibabel names them (`xform_codes`, `unit_codes`, `intent_codes`,
//! `slice_order_codes`), and the rules that read them.

use crate::error::{Error, Result};

const XFORM_LABELS: [&str; 6] = [
    "unknown",
    "scanner",
    "aligned",
    "talairach",
    "mni",
    "template",
];

/// The label of a qform/sform code (`aligned`), or None for codes outside 0..=5.
pub fn xform_label(code: i64) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|c| XFORM_LABELS.get(c).copied())
}

/// nibabel's `unit_codes`.
const UNIT_LABELS: [(i64, &str); 10] = [
    (0, "unknown"),
    (1, "meter"),
    (2, "mm"),
    (3, "micron"),
    (8, "sec"),
    (16, "msec"),
    (24, "usec"),
    (32, "hz"),
    (40, "ppm"),
    (48, "rads"),
];

/// The label of a NIfTI unit code, or None if unknown.
pub fn unit_label(code: i64) -> Option<&'static str> {
    UNIT_LABELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
}

/// nibabel's `intent_codes`: code, label, number of parameters.
pub(super) const INTENTS: &[(i64, &str, usize)] = &[
    (0, "none", 0),
    (2, "correlation", 1),
    (3, "t test", 1),
    (4, "f test", 2),
    (5, "z score", 0),
    (6, "chi2", 1),
    (7, "beta", 2),
    (8, "binomial", 2),
    (9, "gamma", 2),
    (10, "poisson", 1),
    (11, "normal", 2),
    (12, "non central f test", 3),
    (13, "non central chi2", 2),
    (14, "logistic", 2),
    (15, "laplace", 2),
    (16, "uniform", 2),
    (17, "non central t test", 2),
    (18, "weibull", 2),
    (19, "chi", 1),
    (20, "inverse gaussian", 2),
    (21, "extreme value 1", 2),
    (22, "p value", 0),
    (23, "log p value", 0),
    (24, "log10 p value", 0),
    (1001, "estimate", 0),
    (1002, "label", 0),
    (1003, "neuroname", 0),
    (1004, "general matrix", 2),
    (1005, "symmetric matrix", 1),
    (1006, "displacement vector", 0),
    (1007, "vector", 0),
    (1008, "pointset", 0),
    (1009, "triangle", 0),
    (1010, "quaternion", 0),
    (1011, "dimensionless", 0),
    (2001, "time series", 0),
    (2002, "node index", 0),
    (2003, "rgb vector", 0),
    (2004, "rgba vector", 0),
    (2005, "shape", 0),
    (2006, "fnirt disp field", 0),
    (2007, "fnirt cubic spline coef", 0),
    (2008, "fnirt dct coef", 0),
    (2009, "fnirt quad spline coef", 0),
    (2016, "topup cubic spline coef ", 0),
    (2017, "topup quad spline coef", 0),
    (2018, "topup field", 0),
    (3000, "ConnUnknown", 0),
    (3001, "ConnDense", 0),
    (3002, "ConnDenseSeries", 0),
    (3003, "ConnParcels", 0),
    (3004, "ConnParcelSries", 0),
    (3006, "ConnDenseScalar", 0),
    (3007, "ConnDenseLabel", 0),
    (3008, "ConnParcelScalr", 0),
    (3009, "ConnParcelDense", 0),
    (3010, "ConnDenseParcel", 0),
    (3011, "ConnPPSr", 0),
    (3012, "ConnPPSc", 0),
];

/// The intent of a NIfTI image as nibabel's `get_intent` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The intent label (`t test`), or `unknown code N`.
    pub label: String,
    /// The parameters this intent uses (`intent_p1` …), as many as the code defines.
    pub params: Vec<f64>,
    /// `intent_name`, decoded as Latin-1.
    pub name: String,
}

/// nibabel's `slice_order_codes` labels, by code.
pub(super) const SLICE_ORDERS: [&str; 7] = [
    "unknown",
    "sequential increasing",
    "sequential decreasing",
    "alternating increasing",
    "alternating decreasing",
    "alternating increasing 2",
    "alternating decreasing 2",
];

/// The slices in the order they were acquired, for a slice-order label (nibabel's
/// `_slice_time_order` before its `argsort`).
pub(super) fn slice_acquisition_order(label: &str, n: usize) -> Result<Vec<usize>> {
    let up = |from: usize| (from..n).step_by(2);
    let down = |from: usize| (0..n).rev().skip(from).step_by(2);
    let order: Vec<usize> = match label {
        "sequential increasing" => (0..n).collect(),
        "sequential decreasing" => (0..n).rev().collect(),
        "alternating increasing" => up(0).chain(up(1)).collect(),
        "alternating decreasing" => down(0).chain(down(1)).collect(),
        "alternating increasing 2" => up(1).chain(up(0)).collect(),
        "alternating decreasing 2" => down(1).chain(down(0)).collect(),
        other => {
            return Err(Error::header_value(format!(
                "We do not handle slice ordering \"{other}\""
            ))
            .field("slice_code"));
        }
    };
    Ok(order)
}

/// nibabel's code defaulting for `set_qform` / `set_sform`.
pub(super) fn resolve_xform_code(
    old: i64,
    has_affine: bool,
    code: Option<i64>,
    field: &'static str,
) -> Result<i64> {
    match code {
        Some(c) if xform_label(c).is_some() => Ok(c),
        Some(c) => {
            Err(Error::usage(format!("{field} {c} is not a NIfTI xform code (0..=5)")).field(field))
        }
        None if !has_affine => Ok(0),
        None if old == 0 => Ok(2),
        None => Ok(old),
    }
}
