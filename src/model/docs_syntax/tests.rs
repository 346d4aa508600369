use super::*;

fn prepared_with(text: &str, page: &BTreeMap<String, serde_json::Value>, site: &serde_json::Value) -> Prepared {
    prepare(text, 0, false, Params { page, site, hugo: true, cascade: &[] })
}

fn prepared(text: &str) -> Prepared {
    prepared_with(text, &BTreeMap::new(), &serde_json::Value::Null)
}

fn out(text: &str) -> String {
    let p = prepared(text);
    assert_eq!(p.text(text).lines().count(), text.lines().count(), "lines never move");
    p.text(text).to_string()
}

#[test]
fn plain_markdown_is_left_alone() {
    let p = prepared("# T\n\nNothing {{ template }} here: a: b\n");
    assert!(p.text.is_none());
}

#[test]
fn docsy_alert_becomes_a_box() {
    let text = "# T\n\n{{% alert title=\"Careful\" color=\"warning\" %}}\nThis **matters**.\n\nTwo paragraphs.\n{{% /alert %}}\n\nAfter.\n";
    let p = prepared(text);
    assert_eq!(p.text(text), "# T\n\n>\n> This **matters**.\n>\n> Two paragraphs.\n\n\nAfter.\n");
    assert_eq!(p.admonitions, [Admonition { line: 3, kind: "warning".into(), title: "Careful".into() }]);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn a_one_line_alert_keeps_its_text() {
    let text = "{{% alert %}}Read this.{{% /alert %}}\n";
    let p = prepared(text);
    assert_eq!(p.text(text), "> Read this.\n");
    assert_eq!(p.admonitions[0].kind, "note");
}

#[test]
fn docusaurus_and_mkdocs_admonitions() {
    assert_eq!(out(":::tip[Fast path]\nUse `x`.\n:::\n"), ">\n> Use `x`.\n\n");
    assert_eq!(out(":::note\n\nSpaced.\n\n:::\n"), ">\n>\n> Spaced.\n>\n\n");
    let text = "!!! warning \"Disk\"\n    Full.\n\n    Still.\n\nOutside.\n";
    let p = prepared(text);
    assert_eq!(p.text(text), ">\n> Full.\n>\n> Still.\n\nOutside.\n");
    assert_eq!(p.admonitions[0].title, "Disk");
    assert_eq!(p.admonitions[0].kind, "warning");
    // Nested, and a list item's box keeps its indent.
    assert_eq!(out("::::note\n:::tip\nIn.\n:::\n::::\n"), ">\n> >\n> > In.\n>\n\n");
    assert_eq!(out("- item\n\n  :::info\n  Boxed.\n  :::\n"), "- item\n\n  >\n  > Boxed.\n\n");
}

#[test]
fn code_is_never_an_admonition() {
    let text = "```md\n:::note\n!!! tip\n```\n";
    assert_eq!(out(text), text);
    let text = "!!! note\n    ```\n    :::x\n    ```\n";
    assert_eq!(out(text), ">\n> ```\n> :::x\n> ```\n");
}

#[test]
fn step_fences_are_untouched() {
    let text = "{{% alert %}}\n```yaml step\nrun: echo {{< x >}}\n```\n{{% /alert %}}\n";
    let p = prepared(text);
    assert_eq!(p.text(text), ">\n> ```yaml step\n> run: echo {{< x >}}\n> ```\n\n");
    assert!(p.notes.is_empty(), "the tag inside the step is not a shortcode: {:?}", p.notes);
}

#[test]
fn refs_become_link_destinations() {
    let text = "See [the guide]({{< ref \"docs/guide.md#setup\" >}}) and [b]({{< relref path=\"b\" >}}).\n";
    let p = prepared(text);
    let out = p.text(text);
    assert_eq!(out, "See [the guide](docs/guide.md#setup) and [b](b).\n");
    assert_eq!(p.ref_dests.len(), 2);
    assert_eq!(&out[p.ref_dests[0].clone()], "docs/guide.md#setup");
    assert!(p.is_ref_dest(&(4..37)));
    assert!(!p.is_ref_dest(&(0..3)));
}

#[test]
fn columns_map_back_to_the_file() {
    let text = "[a]({{< ref \"x.md\" >}}) [b](y.md)\n";
    let p = prepared(text);
    assert_eq!(p.text(text), "[a](x.md) [b](y.md)\n");
    // `[b]` is at column 11 of the prepared line, column 25 of the file.
    assert_eq!(p.original_column(1, 11), 25);
    assert_eq!(p.original_column(1, 1), 1);
    assert_eq!(p.original_column(1, 5), 5, "inside the replaced tag: where the tag starts");
    let text = "!!! note\n    [c](z.md)\n";
    let p = prepared(text);
    assert_eq!(p.original_column(2, 3), 5, "`[c]` is after `> ` here, after four spaces in the file");
}

#[test]
fn params_come_from_the_page_then_the_site() {
    let page: BTreeMap<String, serde_json::Value> = [("Version".to_string(), serde_json::json!("1.2"))].into();
    let site = serde_json::json!({"release": {"name": "Ayla"}, "version": "0.9"});
    let text = "v{{< param version >}} {{< param \"release.name\" >}} {{< param missing >}}\n";
    let p = prepared_with(text, &page, &site);
    assert_eq!(p.text(text), "v1.2 Ayla \n");
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0].message.contains("`missing` is not set"), "{:?}", p.notes);
    assert_eq!((p.notes[0].line, p.notes[0].column), (1, 53));
}

#[test]
fn params_cascade_from_the_sections_above() {
    let near = serde_json::json!({"git_version_tag": "v3.5.21"});
    let far = serde_json::json!({"params": {"git_version_tag": "v9", "minGoVers": "1.22"}});
    let text = "{{< param git_version_tag >}} {{< param minGoVers >}}\n";
    let params = Params { page: &BTreeMap::new(), site: &serde_json::Value::Null, hugo: true, cascade: &[&near, &far] };
    assert_eq!(prepare(text, 0, false, params).text(text), "v3.5.21 1.22\n");
}

#[test]
fn figures_and_unknown_shortcodes() {
    let text = "{{< figure src=\"/img/a.png\" caption=\"The <b>flow</b>\" >}}\n\n{{< tabpane >}}\n{{< tab header=\"Linux\" >}}\nRun it.\n{{< /tab >}}\n{{< /tabpane >}}\n{{< youtube abc >}}\n";
    let p = prepared(text);
    let out = p.text(text);
    assert!(
        out.starts_with(
            "<span class=\"figure\">![](</img/a.png>)<span class=\"figure-caption\">The <b>flow</b></span></span>\n"
        ),
        "{out}"
    );
    assert!(out.contains("\nRun it.\n"), "{out}");
    assert!(!out.contains("{{"), "{out}");
    let names: Vec<&str> = p.notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(names.len(), 3, "one note per shortcode name: {names:?}");
    assert!(
        names[0].contains("`tabpane`") && names[1].contains("`tab`") && names[2].contains("`youtube`"),
        "{names:?}"
    );
}

#[test]
fn code_holds_examples_of_shortcodes() {
    let site = serde_json::json!({"tag": "v3.5.0"});
    let text = "Write `{{< ref \"x.md\" >}}` for a link.\n\n```sh\ngit clone -b {{< param tag >}} repo\necho {{< youtube x >}}\n```\n";
    let p = prepared_with(text, &BTreeMap::new(), &site);
    let out = p.text(text);
    assert!(out.starts_with("Write `{{< ref \"x.md\" >}}` for a link."), "{out}");
    assert!(out.contains("git clone -b v3.5.0 repo\necho {{< youtube x >}}\n"), "{out}");
    assert!(p.notes.is_empty(), "examples are no problem: {:?}", p.notes);
    // Outside a Hugo site, code is left as written.
    let p = prepare(text, 0, false, Params { page: &BTreeMap::new(), site: &site, hugo: false, cascade: &[] });
    assert!(p.text(text).contains("git clone -b {{< param tag >}} repo"), "{}", p.text(text));
}

#[test]
fn escaped_shortcodes_show_as_written() {
    assert_eq!(out("Write `{{</* ref \"x\" */>}}`.\n"), "Write `{{< ref \"x\" >}}`.\n");
}

#[test]
fn highlight_becomes_a_fence() {
    assert_eq!(out("{{< highlight go >}}\nfmt.Println(1)\n{{< /highlight >}}\n"), "```go\nfmt.Println(1)\n```\n");
}

#[test]
fn a_tag_over_several_lines() {
    let text = "{{< figure src=\"a.png\"\n    caption=\"Two lines\" >}}\nNext.\n";
    let out = out(text);
    assert!(out.starts_with("<span class=\"figure\">![](<a.png>)"), "{out}");
    assert!(out.ends_with("Two lines</span></span>\n\nNext.\n"), "{out:?}");
}

#[test]
fn front_matter_is_kept_or_blanked() {
    let text = "---\n---\n# T\n:::note\nx\n:::\n";
    let p = prepare(
        text,
        8,
        true,
        Params { page: &BTreeMap::new(), site: &serde_json::Value::Null, hugo: false, cascade: &[] },
    );
    assert_eq!(p.text(text), "\n\n# T\n>\n> x\n\n");
    let text = "---\ntitle: \"{{< x >}}\"\n---\n:::note\nx\n:::\n";
    let p = prepare(
        text,
        27,
        false,
        Params { page: &BTreeMap::new(), site: &serde_json::Value::Null, hugo: false, cascade: &[] },
    );
    assert!(p.text(text).starts_with("---\ntitle: \"{{< x >}}\"\n---\n>\n"), "{}", p.text(text));
}

#[test]
fn github_alerts_are_left_to_the_parser() {
    let text = "> [!WARNING]\n> Read.\n";
    assert!(prepared(text).text.is_none());
}

#[test]
fn crlf_lines_keep_their_endings() {
    assert_eq!(out(":::note\r\nx\r\n:::\r\n"), ">\r\n> x\r\n\r\n");
}
