//! Integration tests of the `cloudstack` client, one binary, modules by behaviour.

mod signing;
