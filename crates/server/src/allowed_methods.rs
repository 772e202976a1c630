//! `405 Method Not Allowed` with an `Allow` header (RFC 9110 §15.5.6) for a
//! path the API serves under another method, instead of a `404` that would
//! say the resource does not exist. The paths and methods are read from the
//! OpenAPI document, so they cannot drift from the routes.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::problem::Problem;

/// Each documented path, split into segments (`None` for a `{parameter}`),
/// with the methods it answers.
#[derive(Clone, Debug, Default)]
pub struct AllowedMethods(Vec<(Vec<Option<String>>, Vec<&'static str>)>);

impl AllowedMethods {
    /// Reads the paths and methods of `document`.
    pub fn of(document: &utoipa::openapi::OpenApi) -> AllowedMethods {
        let mut known = Vec::new();
        for (path, item) in &document.paths.paths {
            let segments = path
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            let methods = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, present)| present.then_some(m))
            .collect();
            known.push((segments, methods));
        }
        AllowedMethods(known)
    }

    /// The methods `path` answers, if it is a documented path.
    pub fn at(&self, path: &str) -> Option<&[&'static str]> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.0.iter().find_map(|(segments, methods)| {
            let fits = segments.len() == wanted.len()
                && segments.iter().zip(&wanted).all(|(s, w)| match s {
                    None => !w.is_empty(),
                    Some(literal) => literal == w,
                });
            fits.then_some(methods.as_slice())
        })
    }
}

/// What nothing else answered: `405` with `Allow` for a documented path
/// asked with another method, `404` for anything else.
pub fn unmatched(req: &HttpRequest, allowed: &AllowedMethods) -> HttpResponse {
    match allowed.at(req.path()) {
        Some(methods) => {
            let allow = methods.join(", ");
            let mut response = Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{} is not served at this path; use {allow}", req.method()),
            )
            .error_response();
            if let Ok(value) = header::HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        None => Problem::not_found("there is nothing at this path").error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_paths_answer_with_their_methods() {
        let allowed = AllowedMethods::of(&crate::openapi::document());
        assert_eq!(allowed.at("/v1/data"), Some(&["GET"][..]));
        assert_eq!(
            allowed.at("/v1/me/attributes/email"),
            Some(&["PUT", "DELETE"][..])
        );
        assert_eq!(allowed.at("/v1/me/attributes/"), None, "an empty parameter");
        assert_eq!(allowed.at("/v1/nothing"), None);
        assert_eq!(allowed.at("/v1/me/attributes/email/more"), None);
    }
}
