-- small_grants: per council, year and scope (every award placed in the council; awards to the council itself), the awards tested against the threshold and how many were small, with the excluded ones counted.
-- Parameters: $threshold (GBP), $include_zero, $include_redacted. Tables: awards (the award table), grid (la_code, la_name, fy).
-- Uses: award_flags
WITH tested AS (
    SELECT la_code, fy, coalesce(is_council_recipient, false) AS to_council, amount, is_zero, is_negative,
        redacted, tested
    FROM award_flags($include_zero, $include_redacted)
),
-- Both scopes in one pass: (la_code, fy) is every award placed in the council; (la_code, fy, to_council)
-- with to_council true is the council's own awards.
grouped AS (
    SELECT
        la_code, fy,
        CASE WHEN GROUPING(to_council) = 1 THEN 'all_recipients' ELSE 'council' END AS scope,
        to_council,
        count_if(tested) AS n_awards,
        count_if(tested AND amount < $threshold) AS n_small,
        count(*) AS n_all_awards,
        count_if(is_zero) AS n_zero_value,
        count_if(is_negative) AS n_negative,
        count_if(redacted) AS n_redacted
    FROM tested
    GROUP BY GROUPING SETS ((la_code, fy), (la_code, fy, to_council))
),
stats AS (
    SELECT * EXCLUDE (to_council) FROM grouped WHERE scope = 'all_recipients' OR to_council
)
SELECT
    g.la_code, g.la_name, g.fy, s.scope,
    coalesce(st.n_awards, 0)::BIGINT AS n_awards,
    coalesce(st.n_small, 0)::BIGINT AS n_small,
    coalesce(st.n_small, 0) / nullif(coalesce(st.n_awards, 0), 0) AS share_small,
    $threshold::DOUBLE AS threshold_gbp,
    coalesce(st.n_all_awards, 0)::BIGINT AS n_all_awards,
    coalesce(st.n_zero_value, 0)::BIGINT AS n_zero_value,
    coalesce(st.n_negative, 0)::BIGINT AS n_negative,
    coalesce(st.n_redacted, 0)::BIGINT AS n_redacted
FROM grid g
CROSS JOIN (VALUES ('all_recipients'), ('council')) AS s(scope)
LEFT JOIN stats st ON st.la_code = g.la_code AND st.fy = g.fy AND st.scope = s.scope
ORDER BY g.la_code, g.fy, s.scope
