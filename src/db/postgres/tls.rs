//! TLS to PostgreSQL through rustls (the aws-lc-rs provider the rest of the binary uses).
//!
//! - `require`: encrypted, the server's certificate taken as it comes (libpq's `sslmode=require`):
//!   safe from listeners on the path, not from someone who can pose as the server.
//! - `verify_full`: the chain checked against `database.ca_file`, or the system's roots when it
//!   is empty, and the certificate's name against the host (libpq's `sslmode=verify-full`).
//! - `disable`: the connector is built all the same, and never used.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_platform_verifier::BuilderVerifierExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls_improved::MakeRustlsConnect;

use crate::config::{DatabaseConfig, DatabaseTls};

/// The connector for `config.tls`; the error says what is wrong with `database.ca_file`.
pub(super) fn connector(config: &DatabaseConfig) -> Result<Connector, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let client = match config.tls {
        DatabaseTls::Disable | DatabaseTls::Require => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))).with_no_client_auth()
        }
        DatabaseTls::VerifyFull if config.ca_file.is_empty() => builder
            .with_platform_verifier()
            .map_err(|e| format!("cannot load the system's certificate authorities: {e}"))?
            .with_no_client_auth(),
        DatabaseTls::VerifyFull => {
            let bad = |why: String| format!("`database.ca_file` {}: {why}", config.ca_file);
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&config.ca_file).map_err(|e| bad(e.to_string()))? {
                roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("holds no PEM certificate".into()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Connector(MakeRustlsConnect::new(client)))
}

/// rustls's connector for tokio-postgres, which also takes a Unix socket: tokio-postgres asks
/// for a TLS session before it knows whether it will use one, with an empty host name for a
/// socket, which is no DNS name. A socket is never encrypted (the mode is `Disable` for it),
/// so any valid name does.
#[derive(Clone)]
pub struct Connector(MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, hostname: &str) -> Result<Self::TlsConnect, Self::Error> {
        MakeTlsConnect::<S>::make_tls_connect(&mut self.0, if hostname.is_empty() { "localhost" } else { hostname })
    }
}

/// `tls = "require"`: any certificate is accepted, but the handshake must still be signed by
/// the key of the certificate presented.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
