//! Interned names: the namespaces, tenants, action types, providers and rule names that repeat
//! on nearly every action and audit record.
//!
//! A name is stored once for the life of the process and carried as a pointer to it, so copying
//! one into a record or a key costs no allocation, and two interned names compare by pointer.
//! Interning is bounded ([`MAX_INTERNED_BYTES`]): a stream that keeps inventing tenants must
//! not grow the table forever, so past the bound a name is kept in a shared allocation of its
//! own instead, and behaves the same.

use rustc_hash::FxHashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// Bytes of names interned per process at most.
pub const MAX_INTERNED_BYTES: usize = 64 << 20;

/// A name: derefs to its text. Cheap to clone; equal when the texts are equal.
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Interned(&'static str),
    /// Past the interning bound.
    Shared(Arc<str>),
}

/// Every interned name of the process, and their total size.
static TABLE: Mutex<(Option<FxHashSet<&'static str>>, usize)> = Mutex::new((None, 0));

thread_local! {
    /// This thread's view of the table: most lookups never take the lock.
    static SEEN: RefCell<FxHashSet<&'static str>> = RefCell::new(FxHashSet::default());
}

impl Name {
    /// The name of `text`, interned while the bound allows.
    pub fn new(text: &str) -> Name {
        if let Some(name) = SEEN.with(|seen| seen.borrow().get(text).copied()) {
            return Name(Repr::Interned(name));
        }
        let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        let (names, bytes) = &mut *table;
        let names = names.get_or_insert_with(FxHashSet::default);
        let interned = match names.get(text) {
            Some(&name) => name,
            None if *bytes + text.len() > MAX_INTERNED_BYTES => {
                return Name(Repr::Shared(Arc::from(text)));
            }
            None => {
                let name: &'static str = Box::leak(text.into());
                names.insert(name);
                *bytes += text.len();
                name
            }
        };
        drop(table);
        SEEN.with(|seen| seen.borrow_mut().insert(interned));
        Name(Repr::Interned(interned))
    }

    /// A name known at compile time: never looked up.
    pub const fn from_static(text: &'static str) -> Name {
        Name(Repr::Interned(text))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Interned(text) => text,
            Repr::Shared(text) => text,
        }
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        match (&self.0, &other.0) {
            (Repr::Interned(a), Repr::Interned(b)) if std::ptr::eq(*a, *b) => true,
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self == other.as_str()
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Hashes as its text, so a map keyed by names can be looked up by `&str`.
impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::new(text)
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Name {
        Name::new(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Name {
        Name::new(&text)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.as_str().to_owned()
    }
}

impl From<Name> for serde_json::Value {
    fn from(name: Name) -> serde_json::Value {
        serde_json::Value::String(name.as_str().to_owned())
    }
}

/// As its text: another process interns it again on arrival.
impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Name, E> {
                Ok(Name::new(text))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_one_name() {
        let a = Name::new("smartbuilding-hq");
        let b = Name::new(&String::from("smartbuilding-hq"));
        assert_eq!(a, b);
        assert!(
            matches!((&a.0, &b.0), (Repr::Interned(x), Repr::Interned(y)) if std::ptr::eq(*x, *y))
        );
        assert_eq!(a, "smartbuilding-hq");
        assert_ne!(a, Name::new("other"));
    }

    #[test]
    fn names_from_other_threads_are_the_same_name() {
        let here = Name::new("iot-threads");
        let there = std::thread::spawn(|| Name::new("iot-threads"))
            .join()
            .unwrap();
        assert!(
            matches!((&here.0, &there.0), (Repr::Interned(x), Repr::Interned(y)) if std::ptr::eq(*x, *y))
        );
    }

    #[test]
    fn shared_and_interned_names_compare_and_hash_by_text() {
        use std::collections::HashSet;
        let shared = Name(Repr::Shared(Arc::from("tenant-x")));
        let interned = Name::new("tenant-x");
        assert_eq!(shared, interned);
        let set: HashSet<Name> = [interned].into_iter().collect();
        assert!(set.contains(&shared));
        assert!(set.contains("tenant-x"));
    }

    #[test]
    fn a_name_round_trips_through_serde() {
        let name = Name::new("sensor_reading");
        let text = serde_json::to_string(&name).unwrap();
        assert_eq!(text, "\"sensor_reading\"");
        assert_eq!(serde_json::from_str::<Name>(&text).unwrap(), name);
    }
}
