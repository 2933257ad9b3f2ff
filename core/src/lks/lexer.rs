//! Tokens of `.lks` source.
