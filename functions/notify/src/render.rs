//! The plain-text form of a notification, shared by the email notifiers.

use hogwarden_core::ports::Notification;

/// The body of an email: the message, then the deep link, then a line saying the
/// link only opens the page (nothing is approved or changed by following it).
pub fn text_body(n: &Notification) -> String {
    let mut text = n.body.trim_end().to_owned();
    if let Some(link) = &n.link {
        text.push_str("\n\nOpen it in Hogwarden: ");
        text.push_str(link);
        text.push_str("\n\nThe link opens the page after you sign in; nothing is approved or changed by following it.");
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use hogwarden_core::types::Email;

    #[test]
    fn the_body_ends_with_the_link_and_says_it_only_opens_the_page() {
        let n = Notification {
            to: Email::parse("frank@example.com").unwrap(),
            subject: "s".into(),
            body: "Your access was granted.".into(),
            link: Some("https://hogwarden.example/requests/1".into()),
        };
        let text = text_body(&n);
        assert!(text.starts_with("Your access was granted.\n\nOpen it in Hogwarden: https://hogwarden.example/requests/1\n"), "{text}");
        assert!(text.contains("after you sign in"), "{text}");
    }

    #[test]
    fn a_body_without_a_link_is_the_message_alone() {
        let n = Notification { to: Email::parse("frank@example.com").unwrap(), subject: "s".into(), body: "Hello.".into(), link: None };
        assert_eq!(text_body(&n), "Hello.\n");
    }
}
