//! Typed calls (filled in next).
