{#
    Producers may send 'View', ' Add_To_Cart', 'add to cart' or 'add-to-cart': trim, lower-case, and
    turn spaces and hyphens into underscores. The synonyms of var('event_type_synonyms') (dbt_project.yml,
    read by Python's shopcore/events.py too) map to the event types; anything else passes through (and
    fails the accepted_values test, which is the signal we want).
#}
{% macro normalize_event_type(column) -%}
    {%- set cleaned -%}
        {{ dbt.replace(dbt.replace('lower(trim(' ~ column ~ '))', "'-'", "'_'"), "' '", "'_'") }}
    {%- endset -%}
    case {{ cleaned }}
    {%- for spelling, event_type in var('event_type_synonyms').items() | sort %}
        when '{{ spelling }}' then '{{ event_type }}'
    {%- endfor %}
        else {{ cleaned }}
    end
{%- endmacro %}
