//! Tests of the consumer shell (the components have their own).
