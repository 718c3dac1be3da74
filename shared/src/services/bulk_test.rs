use super::*;

#[test]
fn sheet_normalisation() {
    let csv = "\u{feff}Job Name, ,Cron\r\n\"a\",x,* * * * *\r\n,,\r\nb\r\n";
    let s = parse_sheet(csv.as_bytes()).unwrap();
    assert_eq!(s.rows.len(), 2);
    assert_eq!(s.stats.removed_column_count, 1);
    assert_eq!(s.stats.removed_empty_row_count, 1);
    assert_eq!(field(&s.rows[1], "cron"), None);
    assert!(parse_sheet(b"").is_err());
    assert!(parse_sheet(b" , \n").is_err());
}

#[test]
fn template_header_quirk() {
    assert_eq!(header_key("Request Body\\r\\n"), "request body");
    assert_eq!(header_key(" PIC Team "), "pic team");
}

#[test]
fn real_file_parses_108_rows() {
    let s = parse_sheet(include_bytes!(
        "../../../tests/fixtures/job-master-github-actions.csv"
    ))
    .unwrap();
    assert_eq!(s.rows.len(), 108);
    assert!(field(&s.rows[0], "request_body")
        .unwrap()
        .contains("branchDetails"));
}
