//! Reading the SVG handouts (`--export svg`) back, for the tests that draw
//! them from recorded runs (tests/export.rs) and from a real lab
//! (tests/e2e/export.rs). Included with `#[path]`.

#![allow(dead_code)]

/// The handout as an XML document, after checking that it is well-formed
/// and that its root is an `<svg>` in the SVG namespace.
pub fn document(text: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(text)
        .unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{text}");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    doc
}

/// The packet arrows of a handout: its `<g class="packet …">` groups.
pub fn packet_arrows(doc: &roxmltree::Document) -> usize {
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("g")
                && n.attribute("class")
                    .is_some_and(|c| c.split(' ').next() == Some("packet"))
        })
        .count()
}
