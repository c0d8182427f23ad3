//! Locators by role and accessible name, as a person (or a screen reader) finds
//! things: a button by its name, a field by its label, a table by its caption. They
//! become XPath here, once; tests never write CSS paths or XPath themselves.
//! The names are the contract in `frontend/UI.md`.

use std::fmt;

/// Something on the page, by role and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A button named exactly so (its `aria-label`, or else its text).
    Button(&'a str),
    /// A link named exactly so.
    Link(&'a str),
    /// A heading (h1–h6) reading exactly so.
    Heading(&'a str),
    /// A form control (input, select, textarea) labelled exactly so.
    Field(&'a str),
    /// A table with this caption.
    Table(&'a str),
    /// An article (a card) named exactly so.
    Article(&'a str),
    /// A form named exactly so.
    Form(&'a str),
    /// A list (`ul`/`ol`) named exactly so.
    List(&'a str),
    /// A live `status` region whose text contains this.
    Status(&'a str),
    /// An `alert` whose text contains this (empty: any alert).
    Alert(&'a str),
    /// A table row (of a table with this caption) whose cells contain this text.
    Row { table: &'a str, containing: &'a str },
    /// Any element whose own text contains this (for plain messages).
    Text(&'a str),
    /// A navigation landmark named exactly so.
    Navigation(&'a str),
    /// The disclosure button (`aria-controls`) of the menu that holds the link named so,
    /// whether that menu is open or not.
    MenuFor(&'a str),
}

impl Target<'_> {
    /// The XPath, relative to a scope (`.//…`), so it works on the page and inside an element.
    pub fn xpath(&self) -> String {
        match *self {
            Target::Button(name) => format!(".//*[(self::button or @role='button') and {}]", named(name)),
            Target::Link(name) => format!(".//*[(self::a or @role='link') and {}]", named(name)),
            Target::Heading(name) => format!(
                ".//*[(self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6 or @role='heading') and normalize-space(.)={}]",
                lit(name)
            ),
            Target::Field(label) => {
                let l = lit(label);
                format!(
                    ".//*[(self::input or self::select or self::textarea) and (@aria-label={l} \
                     or @id=//label[normalize-space(.)={l}]/@for \
                     or @aria-labelledby=//*[normalize-space(.)={l}]/@id \
                     or ancestor::label[normalize-space(text()[1])={l}])]"
                )
            }
            Target::Table(caption) => format!(".//table[caption[normalize-space(.)={}]]", lit(caption)),
            Target::Article(name) => format!(".//*[(self::article or @role='article') and {}]", labelled(name)),
            Target::Form(name) => format!(".//*[(self::form or @role='form') and {}]", labelled(name)),
            Target::List(name) => format!(".//*[(self::ul or self::ol or @role='list') and {}]", labelled(name)),
            Target::Status(text) => {
                format!(".//*[(@role='status' or self::output) and contains(normalize-space(.), {})]", lit(text))
            }
            Target::Alert(text) => format!(".//*[@role='alert' and contains(normalize-space(.), {})]", lit(text)),
            Target::Row { table, containing } => {
                format!(".//table[caption[normalize-space(.)={}]]//tr[td[contains(normalize-space(.), {})]]", lit(table), lit(containing))
            }
            Target::Text(text) => format!(".//*[text()[contains(normalize-space(.), {})]]", lit(text)),
            Target::Navigation(name) => format!(".//*[(self::nav or @role='navigation') and {}]", labelled(name)),
            Target::MenuFor(link) => format!(
                ".//*[(self::button or @role='button') and @aria-controls=//*[.//*[(self::a or @role='link') and {}]]/@id]",
                named(link)
            ),
        }
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Button(n) => write!(f, "button \"{n}\""),
            Target::Link(n) => write!(f, "link \"{n}\""),
            Target::Heading(n) => write!(f, "heading \"{n}\""),
            Target::Field(n) => write!(f, "field labelled \"{n}\""),
            Target::Table(n) => write!(f, "table \"{n}\""),
            Target::Article(n) => write!(f, "article \"{n}\""),
            Target::Form(n) => write!(f, "form \"{n}\""),
            Target::List(n) => write!(f, "list \"{n}\""),
            Target::Status(t) => write!(f, "status containing \"{t}\""),
            Target::Alert(t) => write!(f, "alert containing \"{t}\""),
            Target::Row { table, containing } => write!(f, "row of table \"{table}\" containing \"{containing}\""),
            Target::Text(t) => write!(f, "text \"{t}\""),
            Target::Navigation(n) => write!(f, "navigation \"{n}\""),
            Target::MenuFor(l) => write!(f, "menu button holding link \"{l}\""),
        }
    }
}

/// Accessible name of a control: `aria-label` wins over the text, as in the browser.
fn named(name: &str) -> String {
    let l = lit(name);
    format!("(@aria-label={l} or (not(@aria-label) and normalize-space(.)={l}))")
}

/// Accessible name of a landmark or card: `aria-label`, or the text of what `aria-labelledby` names.
fn labelled(name: &str) -> String {
    let l = lit(name);
    format!("(@aria-label={l} or @aria-labelledby=//*[normalize-space(.)={l}]/@id)")
}

/// An XPath 1.0 string literal for any text (XPath has no escapes, hence `concat`).
fn lit(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_quote_any_text() {
        assert_eq!(lit("Approve"), "'Approve'");
        assert_eq!(lit("Alice's"), "\"Alice's\"");
        assert_eq!(lit("it's \"x\""), "concat('it', \"'\", 's \"x\"')");
    }

    #[test]
    fn buttons_prefer_their_aria_label() {
        let x = Target::Button("Sign in as frank@example.com").xpath();
        assert!(x.contains("@aria-label='Sign in as frank@example.com'"), "{x}");
        assert!(x.contains("not(@aria-label)"), "{x}");
    }
}
