//! The one error accumulator of the macros (in the manner of darling's
//! `Accumulator`): each check adds what it finds and goes on, so that one macro
//! invocation reports every problem at once instead of the first.

use proc_macro2::TokenStream;

/// The errors found so far; none at first.
#[derive(Debug, Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error (which may itself hold several), after those already found.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds every error of `other`, after those already found.
    pub fn combine(&mut self, other: Errors) {
        if let Some(error) = other.0 {
            self.push(error);
        }
    }

    /// The value of `result`; or, when it failed, `None` with its errors added.
    pub fn handle<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// Whether no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// `Ok` when no error was found, else every error found.
    pub fn finish(self) -> syn::Result<()> {
        self.finish_with(())
    }

    /// `value` when no error was found, else every error found.
    pub fn finish_with<T>(self, value: T) -> syn::Result<T> {
        self.0.map_or(Ok(value), Err)
    }

    /// Adds a last error, one that leaves nothing more to check, and returns every
    /// error found.
    pub fn bail<T>(self, error: syn::Error) -> syn::Result<T> {
        Err(match self.0 {
            Some(mut all) => {
                all.combine(error);
                all
            }
            None => error,
        })
    }

    /// Every error found as a `compile_error!`; nothing when there is none.
    pub fn into_compile_error(self) -> TokenStream {
        self.0.map(syn::Error::into_compile_error).unwrap_or_default()
    }
}

/// The messages of the `compile_error!`s among an expansion's items, in order.
#[cfg(test)]
pub fn messages(out: &TokenStream) -> Vec<String> {
    let file: syn::File =
        syn::parse2(out.clone()).unwrap_or_else(|error| panic!("the expansion is not a Rust file: {error}\n{out}"));
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(item) if item.mac.path.segments.last().is_some_and(is_compile_error) => {
                Some(item.mac.parse_body::<syn::LitStr>().map(|message| message.value()))
            }
            _ => None,
        })
        .collect::<syn::Result<_>>()
        .unwrap_or_else(|error| panic!("a compile_error! without a message: {error}\n{out}"))
}

#[cfg(test)]
fn is_compile_error(segment: &syn::PathSegment) -> bool {
    segment.ident == "compile_error"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn error(message: &str) -> syn::Error {
        syn::Error::new(Span::call_site(), message)
    }

    fn all(result: syn::Result<()>) -> Vec<String> {
        match result {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn empty_is_ok() {
        let errors = Errors::default();
        assert!(errors.is_empty());
        assert_eq!(errors.finish_with(7).ok(), Some(7));
        assert!(Errors::default().finish().is_ok());
        assert!(Errors::default().into_compile_error().is_empty());
    }

    #[test]
    fn every_error_in_order() {
        let mut errors = Errors::default();
        errors.push(error("a"));
        assert_eq!(errors.handle(Ok::<_, syn::Error>(1)), Some(1));
        assert_eq!(errors.handle::<u8>(Err(error("b"))), None);
        let mut more = Errors::default();
        more.push(error("c"));
        more.push(error("d"));
        errors.combine(more);
        errors.combine(Errors::default());
        assert!(!errors.is_empty());
        assert_eq!(all(errors.finish()), ["a", "b", "c", "d"]);
    }

    #[test]
    fn bail_adds_the_last_error() {
        assert_eq!(all(Errors::default().bail(error("only"))), ["only"]);
        let mut errors = Errors::default();
        errors.push(error("first"));
        assert_eq!(all(errors.bail(error("last"))), ["first", "last"]);
    }

    #[test]
    fn compile_errors() {
        let mut errors = Errors::default();
        errors.push(error("a"));
        errors.push(error("b"));
        assert_eq!(messages(&errors.into_compile_error()), ["a", "b"]);
    }
}
