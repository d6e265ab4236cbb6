//! The case list the build writes holds every case of `src/cases/` once.

use std::collections::HashSet;

#[test]
fn every_case_function_is_listed_once() {
    let names: HashSet<&str> = session_testkit::CASE_NAMES.iter().copied().collect();
    assert_eq!(
        names.len(),
        session_testkit::CASE_NAMES.len(),
        "a name listed twice"
    );
    // Counted independently of the build's parser: each case file's `pub async fn`s.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/cases");
    let mut written = 0;
    for entry in std::fs::read_dir(dir).expect("src/cases is readable") {
        let path = entry.expect("a directory entry").path();
        let source = std::fs::read_to_string(&path).expect("a case file is readable");
        for found in source.split("pub async fn ").skip(1) {
            let name: String = found
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                names.contains(name.as_str()),
                "{name} is not run by the kit"
            );
            written += 1;
        }
    }
    assert_eq!(written, names.len());
    assert!(names.contains("flash_is_gone_two_requests_later"));
}
