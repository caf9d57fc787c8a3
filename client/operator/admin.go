package operator

import (
	"context"
	"net/http"

	"github.com/candorcloud/candor/api"
)

// Administration: moving accounts between regions, applying retention, and
// publishing public content. None of it reads personal data.

// StartMigration starts moving one account or a country's accounts to a
// region; follow it with Migration.
func (c *Client) StartMigration(ctx context.Context, req api.MigrateRequest) (api.Migration, error) {
	return call[api.Migration](ctx, c, http.MethodPost, "/operator/migrations", req)
}

// Migration reports a migration's progress.
func (c *Client) Migration(ctx context.Context, id string) (api.Migration, error) {
	return call[api.Migration](ctx, c, http.MethodGet, "/operator/migrations/"+escape(id), nil)
}

// RunRetention applies every region's retention rules now.
func (c *Client) RunRetention(ctx context.Context) (api.RetentionRun, error) {
	return call[api.RetentionRun](ctx, c, http.MethodPost, "/operator/retention", nil)
}

// PublishGreetings merges a greetings catalog into the one the server
// serves (administrators).
func (c *Client) PublishGreetings(ctx context.Context, in api.GreetingsCatalog) (api.GreetingsPublished, error) {
	return call[api.GreetingsPublished](ctx, c, http.MethodPost, "/operator/greetings", in)
}

// PublishOTA signs and publishes an update notice for a model and channel
// (administrators).
func (c *Client) PublishOTA(ctx context.Context, r api.OTARelease) (api.OTAPublished, error) {
	return call[api.OTAPublished](ctx, c, http.MethodPost, "/operator/ota", r)
}
