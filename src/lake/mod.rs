//! The Parquet side of wxlake: where files live, how they are written and read.

pub mod layout;
pub mod meta;
pub mod reader;
pub mod writer;

pub use layout::Layout;
