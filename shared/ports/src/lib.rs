//! The ports the application talks to storage through. Each is narrow on purpose:
//! a DynamoDB/S3/SQS adapter and an embedded (SQLite/files) adapter implement the
//! same traits, and the contract suite (feature `contract`) holds both to the same
//! observable behaviour.

pub mod clock;
pub mod counting;
pub mod error;
pub mod mailer;
pub mod object_events;
pub mod objects;
pub mod queue;
pub mod table;

#[cfg(feature = "contract")]
pub mod contract;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use mailer::{Mail, Mailer};
pub use object_events::{CreatedObject, EventError, object_created_event, parse_created_objects};
pub use objects::{ObjectMeta, ObjectPage, Objects, PresignedRequest};
pub use queue::{Queue, QueueSpec, ReceivedMessage};
pub use table::{
    Condition, Cursor, Index, Item, Key, Page, Query, ReturnItem, SortKey, Table, TransactOp,
    Update, Value,
};
