//! WebSub (W3C Recommendation, 2018), both ways: tributary is the hub of the feeds it serves
//! (`hub`), and subscribes to the hubs its sources name.

pub mod hub;
pub mod signature;
pub mod subscriber;
