//! The domain of govshare: the rules of 政务数据共享条例 expressed as types and pure functions.
//!
//! This crate does no IO. Everything that crosses a trust boundary is turned into one of these
//! types by a `parse` that returns a [`ValidationError`] naming the field and the rule.

pub mod aggregation;
pub mod application;
pub mod attachment;
pub mod audit;
pub mod authz;
pub mod calendar;
pub mod catalog;
pub mod change;
pub mod complaint;
pub mod correction;
pub mod credit_code;
pub mod disposal;
pub mod dispute;
pub mod duty;
pub mod enforcement;
pub mod error;
pub mod evidence;
pub mod federation;
pub mod grant;
mod id;
pub mod incident;
pub mod merkle;
pub mod notification;
pub mod number;
pub mod obligation;
pub mod org;
pub mod principal;
pub mod record;
pub mod region;
pub mod role;
pub mod source;
pub mod spreadsheet;
pub mod supervision;
pub mod usage_archive;
pub mod use_record;
pub mod user;

pub use error::ValidationError;
