//! (being written)

pub fn check(_program: &crate::load::Program) -> Vec<crate::diagnostic::Diagnostic> {
    Vec::new()
}
