//! Every registered application opens at its route for the people who may
//! view it, and shows the 403 page to those who may not.

use crate::helpers::*;
use crate::on_both_backends;
use app::registry::APPLICATIONS;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(every_application_page_opens_for_its_viewers_only);

async fn every_application_page_opens_for_its_viewers_only(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let nobody = sign_up_user(&mut admin, &server, "no.roles@example.com", &[]).await;
    for app in APPLICATIONS {
        let role = create_role_with(&mut admin, &format!("{} viewers", app.name), json!([[app.id, "View"]])).await;
        let mut viewer = sign_up_user(&mut admin, &server, &format!("{}.viewer@example.com", app.key), &[role]).await;
        assert_eq!(viewer.call("me", &[]).await.body["apps"], json!([app.id]), "{} viewer sees one app", app.name);

        let page = viewer.get(app.route).await;
        assert_eq!(page.status(), StatusCode::OK, "{} at {} for a viewer", app.name, app.route);
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("<h1>{}</h1>", app.name)), "{} heading in the page: {html}", app.name);
        assert!(!html.contains("Access denied"), "{}: {html}", app.name);

        let page = nobody.get(app.route).await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{} at {} without View", app.name, app.route);
        let html = page.text().await.unwrap();
        assert!(html.contains("Access denied") && html.contains(app.name), "{}: {html}", app.name);
    }
}
