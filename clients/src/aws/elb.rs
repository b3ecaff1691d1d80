//! ELBv2, read-only: `DescribeTargetHealth` of a service's target group, for the story of
//! a failed rollout. Spoken as ELBv2's query protocol (a signed form POST, an XML answer)
//! with the same signed client as DynamoDB and ECS.

pub use forge_contract::ecs::TargetHealth;

use http::Method;

use super::signed::service_error;
use super::xml;
use super::{Aws, AwsError, Target};

/// ELBv2's signing name and API version.
const SERVICE: &str = "elasticloadbalancing";
const VERSION: &str = "2015-12-01";

/// `application/x-www-form-urlencoded` of one value.
fn form(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The targets of an answer's `<TargetHealthDescriptions>`.
fn targets(xml_text: &str) -> Vec<TargetHealth> {
    xml::blocks(xml_text, "member")
        .into_iter()
        .filter_map(|m| {
            Some(TargetHealth {
                id: xml::text(m, "Id")?,
                port: xml::text(m, "Port").and_then(|p| p.parse().ok()),
                state: xml::text(m, "State").unwrap_or_default(),
                reason: xml::text(m, "Reason"),
                description: xml::text(m, "Description"),
            })
        })
        .collect()
}

impl Aws {
    /// `DescribeTargetHealth` of `target_group` (an ARN).
    pub async fn elb_describe_target_health(
        &self,
        target: &Target,
        target_group: &str,
    ) -> Result<Vec<TargetHealth>, AwsError> {
        let signed = self.signed(target).await?;
        let url = format!("{}/", signed.base(SERVICE));
        let body = format!(
            "Action=DescribeTargetHealth&Version={VERSION}&TargetGroupArn={}",
            form(target_group)
        );
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        let reply = signed
            .send(SERVICE, Method::POST, &url, &headers, body.into_bytes())
            .await?;
        let text = String::from_utf8_lossy(&reply.body);
        if reply.status.is_success() {
            return Ok(targets(&text));
        }
        let code =
            xml::text(&text, "Code").unwrap_or_else(|| format!("HTTP{}", reply.status.as_u16()));
        let message = xml::text(&text, "Message").unwrap_or_default();
        Err(if code == "Throttling" {
            AwsError::Throttled(format!("{code}: {message}"))
        } else {
            service_error(code, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads() {
        let answer = r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult><TargetHealthDescriptions>
    <member><HealthCheckPort>8080</HealthCheckPort><Target><Id>10.0.10.5</Id><Port>8080</Port></Target>
      <TargetHealth><State>unhealthy</State><Reason>Target.ResponseCodeMismatch</Reason><Description>Health checks failed with these codes: [404]</Description></TargetHealth></member>
    <member><Target><Id>10.0.11.7</Id><Port>8080</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>
  </TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>"#;
        let t = targets(answer);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].to_string(),
            "10.0.10.5:8080 unhealthy: Target.ResponseCodeMismatch (Health checks failed with these codes: [404])"
        );
        assert_eq!(t[1].to_string(), "10.0.11.7:8080 healthy");
        assert_eq!(form("arn:aws:x/y"), "arn%3Aaws%3Ax%2Fy");
    }
}
