//! The adapter contract suite against the embedded adapters.

use rampart_tests::embedded_env::{objects_env, queue_env, table_env};

rampart_ports::contract_tests!(table: table_env, queue: queue_env, objects: objects_env);
