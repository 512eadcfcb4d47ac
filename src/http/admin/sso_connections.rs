//! The admin routes every kind of SSO connection has: list, create, get, update and
//! delete under one collection path. Written once as a macro because each handler carries
//! its kind's concrete types and paths in its OpenAPI annotation, which a generic function
//! cannot; the work itself is the kind's [`crate::sso::connections::ConnectionKind`].

/// Declares the five handlers of a connection kind; each takes its doc comment from the
/// invocation.
macro_rules! connection_handlers {
    (
        kind: $kind:ident,
        view: $view:ident,
        new: $new:ident,
        update: $update:ident,
        collection: $collection:tt,
        item: $item:tt,
        create_refused: $create_refused:tt,
        $(#[$list_doc:meta])* list: $list:ident,
        $(#[$create_doc:meta])* create: $create:ident,
        $(#[$get_doc:meta])* get: $get:ident,
        $(#[$update_doc:meta])* update: $patch:ident,
        $(#[$delete_doc:meta])* delete: $delete:ident $(,)?
    ) => {
        $(#[$list_doc])*
        #[utoipa::path(get, path = $collection, tag = "sso",
            responses((status = 200, body = [$view])))]
        pub async fn $list(
            axum::extract::State(state): axum::extract::State<$crate::http::AppState>,
            actor: $crate::provisioning::admin::AdminActor,
        ) -> Result<axum::Json<Vec<$view>>, $crate::http::admin::error::AdminApiError> {
            Ok(axum::Json(state.sso.list_connections::<$kind>(&actor).await?))
        }

        $(#[$create_doc])*
        #[utoipa::path(post, path = $collection, tag = "sso",
            request_body = $new,
            responses((status = 201, body = $view),
                (status = 400, description = $create_refused, body = $crate::http::admin::error::ErrorBody)))]
        pub async fn $create(
            axum::extract::State(state): axum::extract::State<$crate::http::AppState>,
            actor: $crate::provisioning::admin::AdminActor,
            $crate::http::admin::auth::AdminJson(new): $crate::http::admin::auth::AdminJson<$new>,
        ) -> Result<(axum::http::StatusCode, axum::Json<$view>), $crate::http::admin::error::AdminApiError> {
            let c = state.sso.$create(&actor, new).await?;
            Ok((axum::http::StatusCode::CREATED, axum::Json(c)))
        }

        $(#[$get_doc])*
        #[utoipa::path(get, path = $item, tag = "sso",
            params(("id" = String, Path, description = "Connection id")),
            responses((status = 200, body = $view)))]
        pub async fn $get(
            axum::extract::State(state): axum::extract::State<$crate::http::AppState>,
            actor: $crate::provisioning::admin::AdminActor,
            axum::extract::Path(id): axum::extract::Path<<$kind as $crate::sso::connections::ConnectionKind>::Id>,
        ) -> Result<axum::Json<$view>, $crate::http::admin::error::AdminApiError> {
            Ok(axum::Json(state.sso.get_connection::<$kind>(&actor, &id).await?))
        }

        $(#[$update_doc])*
        #[utoipa::path(patch, path = $item, tag = "sso",
            request_body = $update,
            params(("id" = String, Path, description = "Connection id")),
            responses((status = 200, body = $view)))]
        pub async fn $patch(
            axum::extract::State(state): axum::extract::State<$crate::http::AppState>,
            actor: $crate::provisioning::admin::AdminActor,
            axum::extract::Path(id): axum::extract::Path<<$kind as $crate::sso::connections::ConnectionKind>::Id>,
            $crate::http::admin::auth::AdminJson(update): $crate::http::admin::auth::AdminJson<$update>,
        ) -> Result<axum::Json<$view>, $crate::http::admin::error::AdminApiError> {
            Ok(axum::Json(state.sso.$patch(&actor, &id, update).await?))
        }

        $(#[$delete_doc])*
        #[utoipa::path(delete, path = $item, tag = "sso",
            params(("id" = String, Path, description = "Connection id")),
            responses((status = 204)))]
        pub async fn $delete(
            axum::extract::State(state): axum::extract::State<$crate::http::AppState>,
            actor: $crate::provisioning::admin::AdminActor,
            axum::extract::Path(id): axum::extract::Path<<$kind as $crate::sso::connections::ConnectionKind>::Id>,
        ) -> Result<axum::http::StatusCode, $crate::http::admin::error::AdminApiError> {
            state.sso.delete_connection::<$kind>(&actor, &id).await?;
            Ok(axum::http::StatusCode::NO_CONTENT)
        }
    };
}

pub(super) use connection_handlers;
