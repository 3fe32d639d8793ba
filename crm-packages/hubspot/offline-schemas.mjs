// Stand-in for @hubspot/project-parsing-lib's schemas.js: the config schema of each component type the CEM
// project uses, keyed by internal component type as the library expects. Written from HubSpot's app
// configuration reference (developers.hubspot.com/docs/apps/developer-platform/build-apps/app-configuration,
// .../add-features/configure-webhooks, .../ui-extensibility/app-cards) and the official project templates
// (github.com/HubSpot/hubspot-project-components, 2026.03). A type missing here fails validation with the
// library's own "unsupported type" error, as an unknown type would against the live schema.
const httpsUrl = { type: 'string', pattern: '^https://' };
const stringList = { type: 'array', items: { type: 'string', minLength: 1 } };

const subscription = (extra, required) => ({
  type: 'object',
  additionalProperties: false,
  required: ['subscriptionType', ...required],
  properties: { subscriptionType: { type: 'string' }, active: { type: 'boolean' }, ...extra },
});

const SCHEMAS = {
  APPLICATION: {
    type: 'object',
    required: ['name', 'distribution', 'auth'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      description: { type: 'string' },
      logo: { type: 'string' },
      distribution: { enum: ['private', 'marketplace'] },
      auth: {
        type: 'object',
        required: ['type', 'requiredScopes'],
        additionalProperties: false,
        properties: {
          type: { enum: ['static', 'oauth'] },
          redirectUrls: { type: 'array', items: { type: 'string' } },
          requiredScopes: stringList,
          optionalScopes: stringList,
          conditionallyRequiredScopes: stringList,
        },
      },
      permittedUrls: {
        type: 'object',
        additionalProperties: false,
        properties: { fetch: { type: 'array', items: httpsUrl }, iframe: { type: 'array', items: httpsUrl },
                      img: { type: 'array', items: httpsUrl } },
      },
      support: {
        type: 'object',
        additionalProperties: false,
        properties: { supportEmail: { type: 'string', format: 'email' }, documentationUrl: httpsUrl,
                      supportUrl: httpsUrl, supportPhone: { type: 'string' } },
      },
    },
  },
  CARD: {
    type: 'object',
    required: ['name', 'location', 'entrypoint', 'objectTypes'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1 },
      description: { type: 'string' },
      location: { enum: ['crm.record.tab', 'crm.record.sidebar', 'crm.preview', 'helpdesk.sidebar'] },
      entrypoint: { type: 'string', pattern: '^/app/cards/.+\\.(jsx|tsx)$' },
      objectTypes: { type: 'array', minItems: 1, items: { type: 'string' } },
    },
  },
  WEBHOOKS: {
    type: 'object',
    required: ['settings', 'subscriptions'],
    additionalProperties: false,
    properties: {
      settings: {
        type: 'object',
        required: ['targetUrl'],
        additionalProperties: false,
        properties: { targetUrl: httpsUrl, maxConcurrentRequests: { type: 'integer', minimum: 5 } },
      },
      subscriptions: {
        type: 'object',
        additionalProperties: false,
        properties: {
          crmObjects: { type: 'array', items: subscription(
            { objectType: { type: 'string' }, propertyName: { type: 'string' } }, ['objectType']) },
          legacyCrmObjects: { type: 'array', items: subscription({ propertyName: { type: 'string' } }, []) },
          hubEvents: { type: 'array', items: subscription({}, []) },
        },
      },
    },
  },
};

export async function getIntermediateRepresentationSchema() {
  return SCHEMAS;
}
