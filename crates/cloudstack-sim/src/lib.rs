//! An in-memory Apache CloudStack management server for demos and tests.
