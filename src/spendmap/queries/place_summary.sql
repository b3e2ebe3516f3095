-- place_summary: per council and year (every council of the grid, zeros where no award reached it) and, where a funder type has awards, per council, year and funder type: awards, GBP, distinct schemes and recipients, and the small-award test.
-- Parameters: $threshold (GBP), $include_zero, $include_redacted. Tables: awards (la_code, fy, scheme, recipient, funder_type, amount_gbp, is_redacted), grid (la_code, la_name, fy).
-- Uses: award_flags
WITH tested AS (
    SELECT la_code, fy, scheme, recipient, funder_type, amount, tested
    FROM award_flags($include_zero, $include_redacted)
),
-- Both groupings in one pass: (la_code, fy) is every award placed in the council; (la_code, fy,
-- funder_type) the same per funder type (awards of no listed type have funder_type NULL and are left out).
grouped AS (
    SELECT
        la_code, fy, funder_type,
        GROUPING(funder_type) = 1 AS every_funder,
        count(DISTINCT scheme) AS n_schemes,
        count(DISTINCT recipient) AS n_recipients,
        count(*) AS n_awards,
        fsum(amount) AS total_gbp,  -- compensated (Kahan) summation, as pandas' groupby sum
        count_if(tested AND amount < $threshold) AS n_small_awards,
        count_if(tested) AS n_tested
    FROM tested
    GROUP BY GROUPING SETS ((la_code, fy), (la_code, fy, funder_type))
)
SELECT
    g.la_code, g.la_name, g.fy, s.funder_type,
    coalesce(s.n_schemes, 0)::BIGINT AS n_schemes,
    coalesce(s.n_recipients, 0)::BIGINT AS n_recipients,
    coalesce(s.n_awards, 0)::BIGINT AS n_awards,
    coalesce(s.total_gbp, 0.0) AS total_gbp,
    coalesce(s.n_small_awards, 0)::BIGINT AS n_small_awards,
    coalesce(s.n_tested, 0)::BIGINT AS n_tested
FROM grid g
LEFT JOIN grouped s ON s.every_funder AND s.la_code = g.la_code AND s.fy = g.fy
UNION ALL
SELECT
    g.la_code, g.la_name, g.fy, s.funder_type,
    s.n_schemes::BIGINT, s.n_recipients::BIGINT, s.n_awards::BIGINT, s.total_gbp,
    s.n_small_awards::BIGINT, s.n_tested::BIGINT
FROM grouped s
JOIN grid g ON g.la_code = s.la_code AND g.fy = s.fy
WHERE NOT s.every_funder AND s.funder_type IS NOT NULL
