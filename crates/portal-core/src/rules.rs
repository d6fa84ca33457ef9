//! Passcode rules (being written).
