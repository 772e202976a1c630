//! Cursor pagination, one shape for every list the API returns:
//! `?limit=N&cursor=C` in, `{"items": [...], "next_cursor": C | null}` out,
//! and a `Link: <...>; rel="next"` header (RFC 8288) while there is more.
//!
//! A cursor is opaque to clients: the base64url of the sort key of the last
//! item on the page. The next page holds the items whose key sorts after it,
//! so an item added or removed between two pages never shifts the others
//! (keyset, not offset, pagination).

use actix_web::{HttpRequest, HttpResponse};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::Problem;

/// Items on a page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items a page holds.
pub const MAX_LIMIT: usize = 100;
/// A cursor longer than this was not made here.
const MAX_CURSOR_LEN: usize = 512;

/// Paging parameters of a list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// Where to go on: the `next_cursor` of the previous page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(example = "eC1i")]
    pub next_cursor: Option<String>,
}

/// A checked [`PageQuery`]: how many, and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// How many items at most.
    pub limit: usize,
    /// The sort key of the last item already seen.
    pub after: Option<String>,
}

impl PageQuery {
    /// Checks the limit's range and decodes the cursor.
    ///
    /// # Errors
    /// A 422 problem naming `limit` or `cursor`.
    pub fn check(&self) -> Result<Paging, Problem> {
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
            Some(_) => {
                return Err(Problem::invalid(
                    "limit",
                    format!("a page has 1 to {MAX_LIMIT} items"),
                ));
            }
        };
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => Some(decode_cursor(text)?),
        };
        Ok(Paging { limit, after })
    }
}

fn decode_cursor(text: &str) -> Result<String, Problem> {
    let bad = || {
        Problem::invalid(
            "cursor",
            "not a cursor this server made; pass a page's `next_cursor` unchanged",
        )
    };
    if text.is_empty() || text.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// The cursor that continues after an item of sort key `key`.
#[must_use]
pub fn cursor_after(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

impl Paging {
    /// The page of `items`, in the order of `key` (unique per item), that
    /// follows the cursor.
    pub fn page<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let mut rest: Vec<(String, T)> = items
            .into_iter()
            .map(|i| (key(&i), i))
            .filter(|(k, _)| self.after.as_ref().is_none_or(|after| k > after))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        let more = rest.len() > self.limit;
        rest.truncate(self.limit);
        let next_cursor = if more {
            rest.last().map(|(last, _)| cursor_after(last))
        } else {
            None
        };
        Page {
            items: rest.into_iter().map(|(_, i)| i).collect(),
            next_cursor,
        }
    }
}

/// The key of a list paged in the store, newest first, on
/// (`created_at`, `id`): `created_at` in Unix nanoseconds, then the id.
#[must_use]
pub fn time_id_key(at: time::OffsetDateTime, id: &str) -> String {
    format!("{}:{id}", at.unix_timestamp_nanos())
}

impl Paging {
    /// The (`created_at`, `id`) a store-paged list goes on after
    /// ([`time_id_key`]'s inverse).
    ///
    /// # Errors
    /// A 422 naming `cursor` when the cursor is not such a key.
    pub fn after_time_id(&self) -> Result<Option<(time::OffsetDateTime, &str)>, Problem> {
        let Some(text) = &self.after else {
            return Ok(None);
        };
        let bad = || {
            Problem::invalid(
                "cursor",
                "not a cursor of this list; pass `next_cursor` unchanged",
            )
        };
        let (nanos, id) = text.split_once(':').ok_or_else(bad)?;
        let at = nanos
            .parse::<i128>()
            .ok()
            .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
            .ok_or_else(bad)?;
        Ok(Some((at, id)))
    }
}

/// A sort key that orders newest first: later times give smaller keys, and
/// `id` breaks ties.
#[must_use]
pub fn newest_first(unix_ms: i64, id: &str) -> String {
    format!("{:020}:{id}", i64::MAX.saturating_sub(unix_ms.max(0)))
}

/// A sort key that orders oldest first, `id` breaking ties.
#[must_use]
pub fn oldest_first(at: time::OffsetDateTime, id: &str) -> String {
    in_position(u64::try_from(millis(at)).unwrap_or(0), id)
}

/// Milliseconds since 1970 (0 before it).
#[must_use]
pub fn millis(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A sort key for a list kept in a given position (rules, passkeys by age):
/// zero-padded so that string order is number order.
#[must_use]
pub fn in_position(position: u64, id: &str) -> String {
    format!("{position:020}:{id}")
}

/// The answer for a page: the JSON body and, while there is more, a `Link`
/// header to the next page with the request's other parameters kept.
pub fn respond<T: Serialize>(
    request: &HttpRequest,
    public_url: &url::Url,
    page: &Page<T>,
) -> HttpResponse {
    respond_with(request, public_url, page.next_cursor.as_deref(), page)
}

/// As [`respond`], for a list whose body carries more than the page
/// (`items` and `next_cursor` beside other members).
pub fn respond_with(
    request: &HttpRequest,
    public_url: &url::Url,
    next_cursor: Option<&str>,
    body: &impl Serialize,
) -> HttpResponse {
    let mut answer = HttpResponse::Ok();
    if let Some(cursor) = next_cursor {
        let mut next = public_url.clone();
        next.set_path(request.path());
        {
            let mut query = next.query_pairs_mut();
            query.clear();
            for (name, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
                if name != "cursor" {
                    query.append_pair(&name, &value);
                }
            }
            query.append_pair("cursor", cursor);
        }
        answer.insert_header(("Link", format!("<{next}>; rel=\"next\"")));
    }
    answer.json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(limit: usize, after: Option<&str>) -> Paging {
        Paging {
            limit,
            after: after.map(str::to_owned),
        }
    }

    #[test]
    fn pages_walk_the_whole_list_once_in_order() {
        let items: Vec<u32> = (0..23).collect();
        let key = |n: &u32| format!("{n:04}");
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = paging(5, after.as_deref()).page(items.clone(), key);
            seen.extend(page.items.iter().copied());
            match page.next_cursor {
                Some(c) => after = Some(decode_cursor(&c).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn an_exactly_full_last_page_has_no_next_cursor() {
        let page = paging(3, None).page(vec![1, 2, 3], |n: &i32| n.to_string());
        assert_eq!(page.items, vec![1, 2, 3]);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn an_item_removed_between_pages_shifts_nothing() {
        let key = |n: &u32| format!("{n:04}");
        let first = paging(2, None).page(vec![1, 2, 3, 4], key);
        let after = decode_cursor(&first.next_cursor.unwrap()).unwrap();
        // 2 (the cursor's own item) is gone by the next call.
        let second = paging(2, Some(&after)).page(vec![1, 3, 4], key);
        assert_eq!(second.items, vec![3, 4]);
    }

    #[test]
    fn bad_limits_and_cursors_are_refused_by_name() {
        for limit in [0, 101, u64::MAX] {
            let q = PageQuery {
                limit: Some(limit),
                cursor: None,
            };
            assert_eq!(q.check().unwrap_err().field.as_deref(), Some("limit"));
        }
        for cursor in ["", "***", "_w", &"A".repeat(600)] {
            let q = PageQuery {
                limit: None,
                cursor: Some(cursor.to_owned()),
            };
            assert_eq!(
                q.check().unwrap_err().field.as_deref(),
                Some("cursor"),
                "{cursor}"
            );
        }
        let ok = PageQuery {
            limit: Some(100),
            cursor: Some(cursor_after("0001:x")),
        };
        assert_eq!(ok.check().unwrap(), paging(100, Some("0001:x")));
    }

    #[test]
    fn newest_first_keys_sort_later_times_first() {
        assert!(newest_first(2_000, "a") < newest_first(1_000, "a"));
        assert!(newest_first(1_000, "a") < newest_first(1_000, "b"));
        assert!(in_position(2, "z") < in_position(10, "a"));
    }
}
