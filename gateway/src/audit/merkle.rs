//! RFC 6962 / RFC 9162 Merkle trees: leaf and node hashing (prefixes 0x00
//! and 0x01), tree heads, inclusion and consistency proofs and their
//! verification. Pure functions over leaf hashes.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a proof does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The index is not inside the tree, or the sizes are out of order.
    #[error("index or size out of range: {0}")]
    Range(String),
    /// The proof has the wrong number of hashes.
    #[error("the proof has {got} hashes, {want} expected")]
    Length {
        /// Hashes given.
        got: usize,
        /// Hashes expected.
        want: usize,
    },
    /// The proof leads to another root.
    #[error("the proof leads to a different root")]
    Mismatch,
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]): the root of the tree over `leaves` (leaf hashes).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        _ => {
            // Bottom-up, pairing left to right; an odd node rises unchanged,
            // which gives the same tree as RFC 6962's recursive split.
            let mut level: Vec<Hash> = leaves.to_vec();
            while level.len() > 1 {
                let mut next = Vec::with_capacity(level.len().div_ceil(2));
                for pair in level.chunks(2) {
                    match pair {
                        [l, r] => next.push(node_hash(l, r)),
                        [single] => next.push(*single),
                        _ => {}
                    }
                }
                level = next;
            }
            level[0]
        }
    }
}

/// A tree being grown leaf by leaf, kept as its compact range: the roots
/// of its perfect subtrees, leftmost (largest) first, at most one per
/// height. Appending a leaf is O(1) amortised and the root O(log n), so
/// the checkpoint signer extends the tree it signed last instead of
/// reading every leaf again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// (height, root) of each perfect subtree; heights strictly decrease.
    subtrees: Vec<(u32, Hash)>,
}

impl CompactRange {
    /// The range of `leaves` (leaf hashes).
    pub fn of(leaves: &[Hash]) -> CompactRange {
        let mut range = CompactRange::default();
        leaves.iter().for_each(|leaf| range.push(*leaf));
        range
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash: equal heights merge like a binary counter's
    /// carries.
    pub fn push(&mut self, leaf: Hash) {
        let (mut height, mut hash) = (0, leaf);
        while let Some(&(top, left)) = self.subtrees.last() {
            if top != height {
                break;
            }
            self.subtrees.pop();
            hash = node_hash(&left, &hash);
            height += 1;
        }
        self.subtrees.push((height, hash));
        self.size += 1;
    }

    /// MTH of the leaves so far: RFC 9162's split at the largest power of
    /// two puts the leftmost subtree on the left of the root, and the rest
    /// of the range, folded the same way, on its right.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.subtrees.iter().rev();
        match subtrees.next() {
            None => empty_root(),
            Some(&(_, rightmost)) => {
                subtrees.fold(rightmost, |right, (_, left)| node_hash(left, &right))
            }
        }
    }
}

/// PATH(m, D[n]): the audit path of leaf `index` in the tree over `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::Range(format!(
            "leaf {index} of a tree of {}",
            leaves.len()
        )));
    }
    let mut proof = Vec::new();
    path(leaves, index, &mut proof);
    Ok(proof)
}

fn path(leaves: &[Hash], m: usize, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(&leaves[..k], m, out);
        out.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], m - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// PROOF(m, D[n]): the consistency proof from the tree of the first `m`
/// leaves to the tree over all `leaves`.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Result<Vec<Hash>, ProofError> {
    let n = leaves.len();
    if m > n {
        return Err(ProofError::Range(format!("size {m} is larger than {n}")));
    }
    let mut proof = Vec::new();
    if m > 0 && m < n {
        subproof(leaves, m, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(leaves: &[Hash], m: usize, complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(&leaves[..k], m, complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(&leaves[k..], m - k, false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Verifies that `leaf` is at `index` in the tree of `size` with `root`
/// (RFC 9162, 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Range(format!(
            "leaf {index} of a tree of {size}"
        )));
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::Length {
                got: proof.len(),
                want: proof.len() - 1,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Length {
            got: proof.len(),
            want: proof.len() + 1,
        });
    }
    if &r == root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// Verifies that the tree of `size2` with `root2` extends the tree of
/// `size1` with `root1` (RFC 9162, 2.1.4.2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::Range(format!(
            "size {size1} is larger than {size2}"
        )));
    }
    if size1 == 0 {
        // Every tree extends the empty one: such a "proof" proves nothing,
        // and a verifier that accepts it can be fooled about the root.
        return Err(ProofError::Range(
            "a consistency proof from the empty tree proves nothing".into(),
        ));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::Length {
                got: proof.len(),
                want: 0,
            });
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::Length { got: 0, want: 1 });
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if size1.is_power_of_two() {
        path.insert(0, *root1);
    }
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::Length {
                got: proof.len(),
                want: proof.len() - 1,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Length {
            got: proof.len(),
            want: proof.len() + 1,
        });
    }
    if &fr == root1 && &sr == root2 {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_compact_range_has_the_root_of_its_leaves_at_every_size() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut range = CompactRange::default();
        assert_eq!(range.root(), root(&[]));
        for n in 1..=leaves.len() {
            range.push(leaves[n - 1]);
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.root(), root(&leaves[..n]), "size {n}");
        }
        assert_eq!(CompactRange::of(&leaves[..77]).root(), root(&leaves[..77]));
        // One subtree per set bit of the size.
        assert_eq!(range.subtrees.len(), 300u32.count_ones() as usize);
    }
}
