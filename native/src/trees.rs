//! `fraud_native.Trees`: a LightGBM binary model's trees evaluated in native code, for serving.
//!
//! LightGBM's own predict walks the same trees but costs about 5 µs a row on these cores through
//! its Python wrapper and thread pool; a plain walk costs a fraction of that. It must give the very
//! same doubles: the rows are read as LightGBM's dense-matrix path reads them (values within
//! ±1e-35 are zero), each node decides as its numerical decision does (missing type, default
//! direction, `value <= threshold`), the trees are summed in order from 0.0 and the sigmoid is
//! applied as its binary objective applies it. Anything else in a model (categorical splits,
//! linear trees, several classes, another objective, averaged output) is refused with the reason;
//! model/native_trees.py then keeps LightGBM's predict, and also checks the two agree on probe rows
//! before using this one.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

/// LightGBM's kZeroThreshold: a double holding the float 1e-35.
const ZERO: f64 = 1e-35_f32 as f64;
const MISSING_NONE: u8 = 0;
const MISSING_NAN: u8 = 2;

/// One node: an inner node's split, or a leaf that leads to itself (so every walk takes the tree's
/// full depth in steps without a data-dependent branch: rows go through a tree side by side).
#[derive(Clone, Copy)]
struct Node {
    threshold: f64,
    feature: u32,
    left: u16,
    right: u16,
    nan_left: bool, // where a NaN goes: its default direction (missing type NaN), else as 0.0 would
}

struct Tree {
    nodes: Vec<Node>, // inner nodes first, then one per leaf
    inner: usize,
    depth: usize,
    leaf: Vec<f64>,
}

impl Tree {
    /// The next node from `n` for a row's values (no data-dependent branch: see Node).
    #[inline(always)]
    fn step(&self, n: usize, values: &[f64]) -> usize {
        let node = self.nodes[n];
        let v = values[node.feature as usize];
        let go_left = if v.is_nan() {
            node.nan_left
        } else {
            v <= node.threshold
        };
        (if go_left { node.left } else { node.right }) as usize
    }

    /// Adds the tree's value for each row (rows of `width` values) to `raw`, row by row; LANES rows
    /// walk side by side, so their independent steps overlap in the core.
    fn add(&self, rows: &[f64], width: usize, raw: &mut [f64]) {
        const LANES: usize = 8;
        let block = LANES * width;
        let mut done = 0;
        for (values, sums) in rows.chunks_exact(block).zip(raw.chunks_exact_mut(LANES)) {
            let mut n = [0usize; LANES];
            for _ in 0..self.depth {
                for (k, node) in n.iter_mut().enumerate() {
                    *node = self.step(*node, &values[k * width..(k + 1) * width]);
                }
            }
            for (sum, node) in sums.iter_mut().zip(n) {
                *sum += self.leaf[node - self.inner];
            }
            done += LANES;
        }
        for (values, sum) in rows[done * width..]
            .chunks_exact(width)
            .zip(raw[done..].iter_mut())
        {
            let mut n = 0;
            for _ in 0..self.depth {
                n = self.step(n, values);
            }
            *sum += self.leaf[n - self.inner];
        }
    }
}

fn numbers<T: std::str::FromStr>(
    text: Option<&&str>,
    what: &str,
    want: usize,
) -> Result<Vec<T>, String> {
    let text = text.ok_or(format!("a tree has no {what}"))?;
    let out: Vec<T> = text
        .split_whitespace()
        .map(|t| {
            t.parse::<T>()
                .map_err(|_| format!("{what}: {t:?} is not a number"))
        })
        .collect::<Result<_, _>>()?;
    if out.len() != want {
        return Err(format!("{what}: {} values, not {want}", out.len()));
    }
    Ok(out)
}

/// An inner-node column (none in a single-leaf tree, which may leave it out).
fn splits<T: std::str::FromStr>(
    fields: &std::collections::HashMap<&str, &str>,
    key: &str,
    inner: usize,
) -> Result<Vec<T>, String> {
    if inner == 0 {
        return Ok(Vec::new());
    }
    numbers(fields.get(key), key, inner)
}

fn tree(fields: &std::collections::HashMap<&str, &str>, width: usize) -> Result<Tree, String> {
    let leaves: usize = numbers::<usize>(fields.get("num_leaves"), "num_leaves", 1)?[0];
    if leaves == 0 {
        return Err("a tree with no leaves".into());
    }
    if fields.get("num_cat").is_some_and(|v| v.trim() != "0") {
        return Err("categorical splits are not evaluated natively".into());
    }
    if fields.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err("linear trees are not evaluated natively".into());
    }
    if leaves > 30_000 {
        return Err(format!(
            "{leaves} leaves in one tree: more than this evaluates"
        ));
    }
    let leaf = numbers::<f64>(fields.get("leaf_value"), "leaf_value", leaves)?;
    let inner = leaves - 1;
    let feature: Vec<usize> = splits(fields, "split_feature", inner)?;
    let threshold: Vec<f64> = splits(fields, "threshold", inner)?;
    let decision: Vec<u8> = splits(fields, "decision_type", inner)?;
    let left: Vec<i32> = splits(fields, "left_child", inner)?;
    let right: Vec<i32> = splits(fields, "right_child", inner)?;
    // a leaf is ~index in LightGBM's text; here it is the node inner + index
    let at = |child: i32| {
        if child >= 0 {
            child as usize
        } else {
            inner + (!child) as usize
        }
    };
    let mut nodes = Vec::with_capacity(inner + leaves);
    for n in 0..inner {
        if feature[n] >= width {
            return Err(format!("a split on feature {} of {width}", feature[n]));
        }
        let missing = (decision[n] >> 2) & 3;
        if decision[n] & 1 != 0 {
            return Err("categorical splits are not evaluated natively".into());
        }
        if missing != MISSING_NONE && missing != MISSING_NAN {
            return Err("zero-as-missing splits are not evaluated natively".into());
        }
        // NaN: the default direction under missing type NaN; under None LightGBM reads it as 0.0
        let nan_left = if missing == MISSING_NAN {
            decision[n] & 2 != 0
        } else {
            0.0 <= threshold[n]
        };
        for child in [left[n], right[n]] {
            // an inner child comes after its parent (so every walk ends)
            let ok = if child >= 0 {
                (child as usize) > n && (child as usize) < inner
            } else {
                ((!child) as usize) < leaves
            };
            if !ok {
                return Err(format!("node {n} has child {child}: not a tree"));
            }
        }
        let (l, r) = (at(left[n]) as u16, at(right[n]) as u16);
        nodes.push(Node {
            threshold: threshold[n],
            feature: feature[n] as u32,
            left: l,
            right: r,
            nan_left,
        });
    }
    for k in 0..leaves {
        let me = (inner + k) as u16;
        nodes.push(Node {
            threshold: 0.0,
            feature: 0,
            left: me,
            right: me,
            nan_left: true,
        });
    }
    // the longest walk from the root (children come after parents: one pass from the end)
    let mut depth = vec![0usize; inner + leaves];
    for n in (0..inner).rev() {
        depth[n] = 1 + depth[nodes[n].left as usize].max(depth[nodes[n].right as usize]);
    }
    Ok(Tree {
        depth: depth[0],
        nodes,
        inner,
        leaf,
    })
}

/// The forest of a LightGBM model text, or why it is not one this evaluates exactly.
fn parse(text: &str) -> Result<(Vec<Tree>, usize, f64), String> {
    let mut header = std::collections::HashMap::new();
    let mut blocks: Vec<std::collections::HashMap<&str, &str>> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line == "end of trees" {
            break;
        }
        if line == "average_output" {
            return Err("averaged output (random forest mode) is not evaluated natively".into());
        }
        if line.starts_with("Tree=") {
            blocks.push(std::collections::HashMap::new());
        } else if let Some((k, v)) = line.split_once('=') {
            blocks.last_mut().unwrap_or(&mut header).insert(k, v);
        }
    }
    for (key, want) in [("num_class", "1"), ("num_tree_per_iteration", "1")] {
        if header.get(key).map(|v| v.trim()) != Some(want) {
            return Err(format!("{key} is {:?}, not {want}", header.get(key)));
        }
    }
    let width = numbers::<usize>(header.get("max_feature_idx"), "max_feature_idx", 1)?[0] + 1;
    let objective: Vec<&str> = header
        .get("objective")
        .copied()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let sigmoid = match objective.as_slice() {
        ["binary", s] => s
            .strip_prefix("sigmoid:")
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or(format!("objective {objective:?}"))?,
        _ => {
            return Err(format!(
                "objective {objective:?} is not binary with a sigmoid"
            ))
        }
    };
    let trees = blocks
        .iter()
        .map(|b| tree(b, width))
        .collect::<Result<Vec<_>, _>>()?;
    if trees.is_empty() {
        return Err("no trees".into());
    }
    Ok((trees, width, sigmoid))
}

#[pyclass(module = "fraud_native")]
pub struct Trees {
    trees: Vec<Tree>,
    width: usize,
    sigmoid: f64,
}

impl Trees {
    fn scores(&self, x: &[f64]) -> Vec<f64> {
        // read as LightGBM's dense rows are: a value within ±1e-35 (not NaN) is zero
        let rows: Vec<f64> = x
            .iter()
            .map(|&v| if v.is_nan() || v.abs() > ZERO { v } else { 0.0 })
            .collect();
        let mut raw = vec![0.0; rows.len() / self.width];
        for t in &self.trees {
            t.add(&rows, self.width, &mut raw); // each row's sum in tree order from 0.0, as LightGBM's
        }
        raw.iter()
            .map(|r| 1.0 / (1.0 + (-self.sigmoid * r).exp()))
            .collect()
    }
}

#[pymethods]
impl Trees {
    /// The trees of a LightGBM model text; ValueError (with why) for a model they cannot score exactly.
    #[new]
    fn new(text: &str) -> PyResult<Self> {
        let (trees, width, sigmoid) = parse(text).map_err(PyValueError::new_err)?;
        Ok(Trees {
            trees,
            width,
            sigmoid,
        })
    }

    /// Probabilities of the rows (float64 bytes, row-major, `width` columns) as float64 bytes.
    fn predict<'py>(&self, py: Python<'py>, x: &[u8]) -> PyResult<Bound<'py, PyByteArray>> {
        if !x.len().is_multiple_of(8 * self.width) {
            return Err(PyValueError::new_err(format!(
                "rows of {} float64 values expected",
                self.width
            )));
        }
        let values: Vec<f64> = x
            .chunks_exact(8)
            .map(|b| f64::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        let out = py.allow_threads(|| self.scores(&values));
        let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_ne_bytes()).collect();
        Ok(PyByteArray::new_bound(py, &bytes))
    }

    #[getter]
    fn width(&self) -> usize {
        self.width
    }

    #[getter]
    fn count(&self) -> usize {
        self.trees.len()
    }
}
