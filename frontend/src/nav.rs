//! The main navigation: the pages everyone uses as links, the rest in two disclosure
//! menus (**Manage**, **Security**), each shown only with the links the person's roles
//! allow. It fits on one line with the header at common widths.
//!
//! A menu is a button with `aria-expanded` and `aria-controls` that shows or hides a
//! list of links (the WAI-ARIA disclosure navigation pattern): Enter or Space opens it,
//! Tab walks its links, Escape closes it and puts focus back on its button. Following a
//! link, opening the other menu or clicking elsewhere closes it.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::Route;

/// A disclosure menu's name and its pages, in the order they are listed.
pub type Section = (&'static str, Vec<Route>);

/// The links for someone with these roles: those always shown, then the menus (a menu
/// with no page for these roles is left out).
pub fn plan(roles: &[String]) -> (Vec<Route>, Vec<Section>) {
    let is = |role: &str| roles.iter().any(|r| r == role);
    let (approver, admin) = (is("approver"), is("admin"));
    let pick = |pages: &[(Route, bool)]| pages.iter().filter(|(_, shown)| *shown).map(|(r, _)| *r).collect::<Vec<_>>();
    let primary = pick(&[
        (Route::Request, true),
        (Route::MyAccess, true),
        (Route::Inbox, approver),
        (Route::ReviewQueue, true),
        (Route::Audit, true),
    ]);
    let manage = pick(&[
        (Route::Access, admin),
        (Route::Diagnose, approver || admin),
        (Route::Bulk, admin),
        (Route::Reviews, admin),
        (Route::Offboarding, approver),
    ]);
    let security = pick(&[(Route::Drift, admin), (Route::Keys, admin), (Route::Sso, admin)]);
    let menus = [("Manage", manage), ("Security", security)].into_iter().filter(|(_, pages)| !pages.is_empty()).collect();
    (primary, menus)
}

fn link(r: Route, route: RwSignal<Route>) -> AnyView {
    view! {
        <li>
            <a href=r.href() aria-current=move || (route.get() == r).then_some("page")>
                {r.title()}
            </a>
        </li>
    }
    .into_any()
}

/// The navigation landmark **Main**.
#[component]
pub fn MainNav(roles: Vec<String>, route: RwSignal<Route>) -> impl IntoView {
    let (primary, menus) = plan(&roles);
    // The open menu, by name.
    let open = RwSignal::new(None::<&'static str>);
    // Following a link (or any change of address) closes the menu.
    Effect::new(move |_| {
        route.track();
        open.set(None);
    });
    let nav = NodeRef::<leptos::html::Nav>::new();
    // A click anywhere else closes the open menu.
    let outside = window_event_listener(leptos::ev::click, move |ev| {
        let Some(Some(n)) = nav.try_get_untracked() else { return };
        let inside = ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok()).is_some_and(|t| n.contains(Some(&t)));
        if !inside && open.try_get_untracked().flatten().is_some() {
            open.set(None);
        }
    });
    on_cleanup(move || outside.remove());
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape"
            && let Some(name) = open.get_untracked()
        {
            open.set(None);
            let button = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(&menu_button_id(name)));
            if let Some(b) = button.and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = b.focus();
            }
        }
    };
    view! {
        <nav aria-label="Main" node_ref=nav on:keydown=on_keydown>
            <ul>
                {primary.into_iter().map(|r| link(r, route)).collect_view()}
                {menus.into_iter().map(|(name, pages)| menu(name, pages, route, open)).collect_view()}
            </ul>
        </nav>
    }
}

fn menu_button_id(name: &str) -> String {
    format!("menu-{}", name.to_ascii_lowercase())
}

fn menu(name: &'static str, pages: Vec<Route>, route: RwSignal<Route>, open: RwSignal<Option<&'static str>>) -> AnyView {
    let list_id = format!("{}-links", menu_button_id(name));
    let expanded = move || open.get() == Some(name);
    let holds: Vec<Route> = pages.clone();
    let holds_current = move || holds.contains(&route.get());
    view! {
        <li class="menu">
            <button
                type="button"
                id=menu_button_id(name)
                aria-expanded=move || if expanded() { "true" } else { "false" }
                aria-controls=list_id.clone()
                class:current=holds_current
                on:click=move |_| open.update(|o| *o = if *o == Some(name) { None } else { Some(name) })
            >
                {name}
            </button>
            <ul id=list_id hidden=move || !expanded()>
                {pages.into_iter().map(|r| link(r, route)).collect_view()}
            </ul>
        </li>
    }
    .into_any()
}
