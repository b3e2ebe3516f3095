-- county_areas: per county council and year (every county of the grid, zeros where no award reached it): awards placed in the county council itself beside awards placed anywhere in its districts (awards, GBP, distinct recipients), and the two added up. Each award is placed in one council only, so national totals still count it once.
-- Tables: awards (la_code, county_code, fy, amount_gbp, recipient), grid (la_code, la_name, fy): the county councils crossed with the run's years.
WITH placed AS (
    -- A missing amount counts as an award of GBP 0, as everywhere else in the run.
    SELECT la_code, county_code, fy, recipient,
           CASE WHEN amount_gbp IS NULL OR isnan(amount_gbp) THEN 0.0 ELSE amount_gbp END AS amount
    FROM awards
    WHERE fy IS NOT NULL
),
own AS (
    SELECT la_code, fy, count(*) AS n_awards, fsum(amount) AS total_gbp
    FROM placed
    WHERE la_code IN (SELECT la_code FROM grid)
    GROUP BY la_code, fy
),
districts AS (
    SELECT county_code AS la_code, fy, count(*) AS n_awards, fsum(amount) AS total_gbp,
           count(DISTINCT recipient) AS n_recipients
    FROM placed
    WHERE county_code IS NOT NULL
    GROUP BY county_code, fy
),
joined AS (
    SELECT
        g.la_code, g.la_name, g.fy,
        coalesce(o.n_awards, 0)::BIGINT AS n_awards_county_council,
        round(coalesce(o.total_gbp, 0.0), 2) AS total_gbp_county_council,
        coalesce(d.n_awards, 0)::BIGINT AS n_awards_in_districts,
        round(coalesce(d.total_gbp, 0.0), 2) AS total_gbp_in_districts,
        coalesce(d.n_recipients, 0)::BIGINT AS n_recipients_in_districts
    FROM grid g
    LEFT JOIN own o ON o.la_code = g.la_code AND o.fy = g.fy
    LEFT JOIN districts d ON d.la_code = g.la_code AND d.fy = g.fy
)
SELECT *,
    n_awards_county_council + n_awards_in_districts AS n_awards_county_area,
    round(total_gbp_county_council + total_gbp_in_districts, 2) AS total_gbp_county_area
FROM joined
ORDER BY la_code, fy
