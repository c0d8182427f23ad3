//! What the four Lambdas (grants, reverts, key-rotation, reviews) share.

pub mod env;
