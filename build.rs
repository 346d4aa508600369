// The built-in KB, templates and site assets are embedded: rebuild when they change.
fn main() {
    for dir in ["runbooks", "templates", "site"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
