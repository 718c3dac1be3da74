use super::*;

#[test]
fn reads_the_real_template() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let def = TableDefinition::from_template(&path).unwrap();
    assert_eq!(
        def.keys,
        vec![("PK".into(), "HASH".into()), ("SK".into(), "RANGE".into())]
    );
    assert_eq!(def.index_names(), vec!["GSI1", "GSI2"]);
    assert_eq!(def.ttl_attribute.as_deref(), Some("expires_at"));
    assert_eq!(def.attributes.len(), 6);
}
