//! The SM3 Merkle tree that seals a batch of usage records (R-SEC-1), shaped as RFC 6962 §2.1 (Certificate
//! Transparency) with SM3 in place of SHA-256: leaves and inner nodes are hashed with different prefixes
//! (`0x00` and `0x01`), so no leaf can pose as an inner node (second-preimage attacks), and a tree of `n`
//! leaves splits at the largest power of two below `n`. An inclusion proof is the RFC's audit path and is
//! verified with the algorithm of RFC 9162 §2.1.3.2.

use sm3::{Digest as _, Sm3};

use crate::audit::Digest;

/// The hash of one leaf: SM3(0x00 ‖ bytes).
pub fn leaf_hash(bytes: &[u8]) -> Digest {
    let mut h = Sm3::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

/// The hash of an inner node: SM3(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sm3::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root over the given leaf hashes; the root of no leaves is SM3 of nothing.
pub fn root(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => Sm3::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` (RFC 6962 §2.1.1): the sibling hashes from the leaf up to the root.
/// `None` when `index` is out of range.
pub fn inclusion_proof(leaves: &[Digest], index: usize) -> Option<Vec<Digest>> {
    fn path(leaves: &[Digest], index: usize, out: &mut Vec<Digest>) {
        if leaves.len() <= 1 {
            return;
        }
        let k = split(leaves.len());
        if index < k {
            path(&leaves[..k], index, out);
            out.push(root(&leaves[k..]));
        } else {
            path(&leaves[k..], index - k, out);
            out.push(root(&leaves[..k]));
        }
    }
    (index < leaves.len()).then(|| {
        let mut out = Vec::new();
        path(leaves, index, &mut out);
        out
    })
}

/// Whether `leaf` (a leaf hash) is leaf `index` of a tree of `size` leaves with this `root`, by `proof`.
pub fn verify_inclusion(leaf: &Digest, index: u64, size: u64, proof: &[Digest], root: &Digest) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(n: usize) -> Vec<Digest> {
        (0..n).map(|i| leaf_hash(format!("usage-{i}").as_bytes())).collect()
    }

    #[test]
    fn small_trees_have_the_rfc_6962_shape() {
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l[..2]), node_hash(&l[0], &l[1]));
        // Three leaves split as (0, 1) and (2).
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(inclusion_proof(&l, 2).unwrap(), vec![node_hash(&l[0], &l[1])]);
        assert_eq!(inclusion_proof(&l, 0).unwrap(), vec![l[1], l[2]]);
        assert_eq!(inclusion_proof(&l, 3), None);
    }

    #[test]
    fn leaves_and_nodes_are_domain_separated() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut concatenated = a.to_vec();
        concatenated.extend_from_slice(&b);
        // A leaf whose bytes are two hashes is not the node over them.
        assert_ne!(leaf_hash(&concatenated), node_hash(&a, &b));
    }

    proptest! {
        /// Every leaf of every tree up to 70 leaves proves its inclusion, and only at its own position and under
        /// its own root. (The tree size is not bound into the root, as in RFC 6962; the seal carries the count.)
        #[test]
        fn every_proof_verifies_and_nothing_else_does(n in 1usize..70, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick.index(n);
            let proof = inclusion_proof(&l, i).unwrap();
            prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &proof, &r));
            // Another leaf, position, size or root does not verify.
            prop_assert!(!verify_inclusion(&leaf_hash(b"forged"), i as u64, n as u64, &proof, &r));
            if n > 1 {
                let other = (i + 1) % n;
                prop_assert!(!verify_inclusion(&l[i], other as u64, n as u64, &proof, &r));
            }
            prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &proof, &leaf_hash(b"root")));
            prop_assert!(!verify_inclusion(&l[i], n as u64, n as u64, &proof, &r));
            // A changed proof element does not verify.
            if let Some(first) = proof.first() {
                let mut bad = proof.clone();
                bad[0] = node_hash(first, first);
                prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &bad, &r));
                prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &proof[1..], &r));
            }
        }

        /// Changing, removing, adding or swapping leaves changes the root.
        #[test]
        fn any_change_to_the_leaves_changes_the_root(n in 1usize..70, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick.index(n);
            let mut changed = l.clone();
            changed[i] = leaf_hash(b"altered");
            prop_assert_ne!(root(&changed), r);
            let mut removed = l.clone();
            removed.remove(i);
            prop_assert_ne!(root(&removed), r);
            let mut added = l.clone();
            added.insert(i, leaf_hash(b"forged"));
            prop_assert_ne!(root(&added), r);
            if n > 1 {
                let mut swapped = l.clone();
                swapped.swap(i, (i + 1) % n);
                prop_assert_ne!(root(&swapped), r);
            }
        }
    }
}
