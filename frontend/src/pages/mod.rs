//! One module per page. Each page loads what it shows through `crate::api`, and shows
//! a loading, an empty and an error state.

pub mod audit;
pub mod bulk;
pub mod inbox;
pub mod my_access;
pub mod overview;
pub mod request;
