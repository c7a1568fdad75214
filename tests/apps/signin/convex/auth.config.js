// Who may sign in: an OIDC issuer (as Clerk, Auth0 or any OpenID Connect provider is configured) and
// a custom JWT issuer, both read from the deployment's environment, as real apps do.
export default {
  providers: [
    { domain: process.env.ISSUER_URL, applicationID: "isobar-test" },
    {
      type: "customJwt",
      issuer: `${process.env.ISSUER_URL}/custom`,
      jwks: `${process.env.ISSUER_URL}/custom/jwks`,
      algorithm: "ES256",
    },
  ],
};
