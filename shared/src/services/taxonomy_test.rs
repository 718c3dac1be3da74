use super::*;

fn taxon(slug: &str, name: &str, active: bool) -> Taxon {
    let t = now();
    Taxon {
        id: slug.into(),
        slug: slug.into(),
        name: name.into(),
        slack_handle: None,
        is_active: active,
        created_at: t,
        updated_at: t,
    }
}

#[test]
fn resolution_by_slug_then_name() {
    let teams = vec![
        taxon("qa-tech", "QA Tech", true),
        taxon("pam", "PAM", true),
        taxon("old", "Legacy Team", false),
    ];
    assert_eq!(
        validate(TaxonKind::Team, &teams, Some("QA Tech")),
        Ok("qa-tech".into())
    );
    assert_eq!(
        validate(TaxonKind::Team, &teams, Some("pam")),
        Ok("pam".into())
    );
    assert!(validate(TaxonKind::Team, &teams, Some("legacy team"))
        .unwrap_err()
        .contains("disabled"));
    assert!(validate(TaxonKind::Team, &teams, Some("nobody"))
        .unwrap_err()
        .starts_with("Unknown PIC team"));
    assert!(validate(TaxonKind::Team, &teams, None)
        .unwrap_err()
        .starts_with("PIC team is required"));
    assert_eq!(
        validate(TaxonKind::Category, &[], None),
        Ok("general".into())
    );
    assert_eq!(
        validate(TaxonKind::Category, &[], Some("General")),
        Ok("general".into())
    );
    assert!(validate(TaxonKind::Category, &[], Some("x")).is_err());
}
