//! Cycles in the small directed graphs the checks build: steps through branches and `next`,
//! chains through `run`, providers through breaker fallbacks.

use std::collections::VecDeque;

/// Cycles among nodes `0..nodes`, each as the edges (indexes into `edges`) it takes, starting
/// and ending at its first node in order. A node already on a reported cycle starts no other,
/// so each loop is reported once, from where it is first written.
pub(super) fn cycles(nodes: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut on_cycle = vec![false; nodes];
    let mut found = Vec::new();
    for start in 0..nodes {
        if on_cycle[start] {
            continue;
        }
        if let Some(cycle) = shortest_cycle(start, nodes, edges) {
            for &edge in &cycle {
                on_cycle[edges[edge].0] = true;
            }
            found.push(cycle);
        }
    }
    found
}

/// The shortest way from `start` back to itself, by breadth-first search.
fn shortest_cycle(start: usize, nodes: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut reached_by: Vec<Option<usize>> = vec![None; nodes];
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for (index, &(from, to)) in edges.iter().enumerate() {
            if from != node {
                continue;
            }
            if to == start {
                let mut path = vec![index];
                let mut at = node;
                while at != start {
                    let edge = reached_by[at]?;
                    path.push(edge);
                    at = edges[edge].0;
                }
                path.reverse();
                return Some(path);
            }
            if to < nodes && reached_by[to].is_none() {
                reached_by[to] = Some(index);
                queue.push_back(to);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::cycles;

    #[test]
    fn reports_each_loop_once() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3, 4 -> 0 (leads into a loop but is not on one).
        let edges = [(0, 1), (1, 2), (2, 0), (3, 3), (4, 0)];
        assert_eq!(cycles(5, &edges), vec![vec![0, 1, 2], vec![3]]);
        assert!(cycles(3, &[(0, 1), (1, 2), (0, 2)]).is_empty());
    }
}
