{#-
    The open alerts of one kind in the alerts model: declared with severity warn, so a build stays
    green and reports them (dbt's warning names the test; the rows say what and when).
-#}
{% test no_open_alerts(model, kind) %}

select kind, metric, window_start, window_end, score, evidence
from {{ model }}
where is_open and kind = '{{ kind }}'

{% endtest %}
