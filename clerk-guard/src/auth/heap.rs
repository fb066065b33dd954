//! What the parts of a verified identity hold on the heap, for the token
//! cache's byte budget: each allocation's size plus the allocator's own
//! overhead, from the structures as built (capacities, not lengths).

use std::mem::size_of;

use serde_json::{Map, Value};

use super::Organization;

/// What one allocation of `bytes` costs: the bytes, and the allocator's
/// header and rounding (none for an empty buffer, which allocates nothing).
pub(super) fn allocation(bytes: usize) -> usize {
    const OVERHEAD: usize = 16;
    if bytes == 0 {
        0
    } else {
        bytes + OVERHEAD
    }
}

/// A claim map: serde_json's `BTreeMap<String, Value>`. A B-tree node holds
/// up to 11 entries (and 12 edges when internal); up to 11 entries fit the
/// root alone, and past that every node but the root holds at least 5, so
/// `n` entries take at most `n / 4 + 3` nodes.
pub(super) fn map(map: &Map<String, Value>) -> usize {
    const NODE: usize =
        11 * (size_of::<String>() + size_of::<Value>()) + 12 * size_of::<usize>() + 16;
    let nodes = match map.len() {
        0 => 0,
        1..=11 => 1,
        n => n / 4 + 3,
    };
    nodes * allocation(NODE)
        + map
            .iter()
            .map(|(name, value)| allocation(name.capacity()) + value_heap(value))
            .sum::<usize>()
}

/// What a value holds beyond its own (inline) size.
fn value_heap(value: &Value) -> usize {
    match value {
        Value::String(s) => allocation(s.capacity()),
        Value::Array(items) => {
            allocation(items.capacity() * size_of::<Value>())
                + items.iter().map(value_heap).sum::<usize>()
        }
        Value::Object(object) => map(object),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// A list of strings.
#[allow(clippy::ptr_arg)] // its capacity is what it holds
pub(super) fn strings(list: &Vec<String>) -> usize {
    allocation(list.capacity() * size_of::<String>())
        + list.iter().map(|s| allocation(s.capacity())).sum::<usize>()
}

/// An organization: its strings and permissions.
pub(super) fn organization(org: &Organization) -> usize {
    org.heap_bytes()
}
