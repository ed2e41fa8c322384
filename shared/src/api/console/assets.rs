//! The console's stylesheet and script, embedded (`shared/assets/console/`), so Lambda serves
//! them too. Public files: they hold no data.

use axum::response::Response;

use crate::api::demo::asset;

const STYLE: &str = include_str!("../../../assets/console/console.css");
const SCRIPT: &str = include_str!("../../../assets/console/console.js");

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
