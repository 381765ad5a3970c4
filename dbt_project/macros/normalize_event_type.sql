{#
    Producers may send 'View', ' Add_To_Cart', 'add to cart' or 'add-to-cart': trim, lower-case, and
    turn spaces and hyphens into underscores. The synonyms of var('event_type_synonyms') (dbt_project.yml,
    read by Python's shopcore/events.py too) map to the event types; anything else passes through (and
    fails the accepted_values test, which is the signal we want).
    A value already spelled as an event type of var('event_types') is passed through first: the
    cleaning would give it back unchanged, and nearly every row is spelled so, while the cleaning's
    string functions (twice: the case's subject and its else) were a third of de-duplicating a day.
    Only the types that the cleaning and the synonyms leave as they are qualify.
#}
{% macro normalize_event_type(column) -%}
    {%- set synonyms = var('event_type_synonyms') -%}
    {%- set cleaned -%}
        {{ dbt.replace(dbt.replace('lower(trim(' ~ column ~ '))', "'-'", "'_'"), "' '", "'_'") }}
    {%- endset -%}
    {%- set canonical = [] -%}
    {%- for event_type in var('event_types') | sort
          if event_type == event_type | trim | lower | replace('-', '_') | replace(' ', '_')
          and event_type not in synonyms -%}
        {%- do canonical.append("'" ~ event_type ~ "'") -%}
    {%- endfor -%}
    case
    {%- if canonical %}
        when {{ column }} in ({{ canonical | join(', ') }}) then {{ column }}
    {%- endif %}
        else
            case {{ cleaned }}
            {%- for spelling, event_type in synonyms.items() | sort %}
                when '{{ spelling }}' then '{{ event_type }}'
            {%- endfor %}
                else {{ cleaned }}
            end
    end
{%- endmacro %}
