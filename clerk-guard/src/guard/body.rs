//! [`RefusalBody`]: the response bodies a refusal can be written into, so
//! [`ClerkLayer`](crate::ClerkLayer) serves any tower service.

use axum::body::{Body, Bytes};
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::{BodyExt, Either, Full};

/// A response body type [`ClerkLayer`](crate::ClerkLayer) can answer a
/// refusal with: the service behind it keeps its own body type, and
/// requests that pass go through untouched (no boxing, no copy).
///
/// Implemented for axum's `Body`, `http_body_util`'s `Full<Bytes>`,
/// `BoxBody`, `UnsyncBoxBody` and `Either` (on the left), `String`,
/// `Vec<u8>` and `Bytes`, and, with the `tonic` feature, tonic's `Body`.
///
/// ```
/// use axum::body::{Body, Bytes};
/// use clerk_guard::RefusalBody;
///
/// /// A service's own body type.
/// struct MyBody(Bytes);
///
/// impl RefusalBody for MyBody {
///     fn from_bytes(bytes: Bytes) -> Self {
///         MyBody(bytes)
///     }
/// }
/// let body = MyBody::from_bytes(Bytes::from_static(b"{}"));
/// ```
pub trait RefusalBody: Sized {
    /// A body holding `bytes`.
    fn from_bytes(bytes: Bytes) -> Self;

    /// The refusal's body as it is (a custom renderer's may stream), when
    /// this type can hold any body; else `Err` with it, to be collected and
    /// handed to [`from_bytes`](Self::from_bytes).
    ///
    /// ```
    /// # use clerk_guard::RefusalBody;
    /// assert!(String::from_body(axum::body::Body::empty()).is_err());
    /// ```
    #[allow(clippy::result_large_err)] // the body is handed back to be collected
    fn from_body(body: Body) -> Result<Self, Body> {
        Err(body)
    }
}

impl RefusalBody for Body {
    fn from_bytes(bytes: Bytes) -> Self {
        Body::from(bytes)
    }

    fn from_body(body: Body) -> Result<Self, Body> {
        Ok(body)
    }
}

impl RefusalBody for Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
    }
}

impl RefusalBody for Bytes {
    fn from_bytes(bytes: Bytes) -> Self {
        bytes
    }
}

impl RefusalBody for Vec<u8> {
    fn from_bytes(bytes: Bytes) -> Self {
        bytes.to_vec()
    }
}

impl RefusalBody for String {
    fn from_bytes(bytes: Bytes) -> Self {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl<E: 'static> RefusalBody for BoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes).map_err(|never| match never {}).boxed()
    }
}

impl<E: From<axum::Error> + 'static> RefusalBody for UnsyncBoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    fn from_body(body: Body) -> Result<Self, Body> {
        Ok(body.map_err(E::from).boxed_unsync())
    }
}

impl<L: RefusalBody, R> RefusalBody for Either<L, R> {
    fn from_bytes(bytes: Bytes) -> Self {
        Either::Left(L::from_bytes(bytes))
    }

    fn from_body(body: Body) -> Result<Self, Body> {
        L::from_body(body).map(Either::Left)
    }
}

#[cfg(feature = "tonic")]
impl RefusalBody for tonic::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        tonic::body::Body::new(Full::new(bytes))
    }

    fn from_body(body: Body) -> Result<Self, Body> {
        Ok(tonic::body::Body::new(body))
    }
}

/// `response` (an axum response) with `B` for its body.
pub(super) async fn convert<B: RefusalBody>(
    response: axum::response::Response,
) -> axum::http::Response<B> {
    let (parts, body) = response.into_parts();
    let body = match B::from_body(body) {
        Ok(body) => body,
        Err(body) => B::from_bytes(
            axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default(),
        ),
    };
    axum::http::Response::from_parts(parts, body)
}
